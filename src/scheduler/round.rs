//! One scheduling round, from the candidate pairs to the suggestions members see.
//!
//! A round holds a transaction-level advisory lock for its whole run, so of two runners (two
//! replicas, or the weekly job and an admin's button) one runs and the other is told a round
//! is already running; the lock goes with the transaction, also when a round fails half-way.
//! A round is for one period, the week (Monday, UTC) it runs in, and `scheduler_rounds.period`
//! is unique: once a week's round is written, another run that week writes nothing.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc, Weekday};
use chrono_tz::Tz;
use sqlx::{PgConnection, PgPool};

use super::candidates::{self, Candidate, Person};
use super::score::{self, Affinity};
use super::slots::{FreeTime, Horizon};
use super::store::{self, NewSuggestion, RoundFigures};
use super::{Settings, matching};
use crate::invitations::model::local_label;
use crate::notify::model::{Kind, Notice};
use crate::shutdown::Shutdown;
use crate::web::bidi::isolate;

/// The name of a round's advisory lock, hashed to its key as the graph locks' names are.
pub const ROUND_LOCK: &str = "cuppa.round";

/// What a call to `run` did.
#[derive(Debug)]
pub enum Outcome {
    /// The round ran (or, for a dry run, was worked out) with these figures.
    Ran(RoundFigures),
    /// Another runner holds the lock; nothing was done.
    AlreadyRunning,
    /// This period's round was already written; nothing was done.
    AlreadyDone(NaiveDate),
}

/// The Monday (UTC) of the week `now` falls in: the period a round at `now` is for.
pub fn period_of(now: DateTime<Utc>) -> NaiveDate {
    let today = now.date_naive();
    today - TimeDelta::days(i64::from(today.weekday().num_days_from_monday()))
}

/// When this period's scheduled round is due: `weekday` at `hour`:00 UTC of the period's week.
pub fn due_at(period: NaiveDate, weekday: Weekday, hour: u32) -> DateTime<Utc> {
    let day = period + TimeDelta::days(i64::from(weekday.num_days_from_monday()));
    day.and_hms_opt(hour.min(23), 0, 0).unwrap_or_default().and_utc()
}

/// Runs the round for the period of `now`. `dry_run` works everything out and rolls it back.
/// `started_by` is the admin who asked, if one did.
pub async fn run(
    pool: &PgPool,
    settings: &Settings,
    now: DateTime<Utc>,
    started_by: Option<i64>,
    dry_run: bool,
) -> anyhow::Result<Outcome> {
    let period = period_of(now);
    let mut tx = pool.begin().await?;
    if !store::start_round(&mut tx, ROUND_LOCK).await? {
        return Ok(Outcome::AlreadyRunning);
    }
    // Also for a dry run: once the week's pairs are written they are in their cool-down, and a
    // dry run would describe a round that will never run.
    if store::round_exists(&mut *tx, period).await? {
        return Ok(Outcome::AlreadyDone(period));
    }

    let clock = Instant::now();
    let considered = candidates::count_considered(&mut *tx).await?;
    let declined_after = now - TimeDelta::weeks(i64::from(settings.cool_down_weeks));
    let pairs = candidates::list_candidates(&mut *tx, period, settings.cool_down_weeks, declined_after).await?;
    let ids: Vec<i64> = pairs.iter().flat_map(|c| [c.a, c.b]).collect::<HashSet<_>>().into_iter().collect();
    let people = candidates::load_people(&mut tx, &ids, now).await?;
    let rounds = store::list_round_starts(&mut *tx).await?;
    let venues = Venues::load(&mut tx).await?;
    let load_ms = clock.elapsed();

    let clock = Instant::now();
    let mut horizon = Horizon::new(now, settings.lead, settings.horizon_days);
    let plans = plan_pairs(&pairs, &people, &rounds, &mut horizon, &venues);
    let score_ms = clock.elapsed();

    let clock = Instant::now();
    let (index_of, edges) = graph_of(&plans);
    let chosen = matching::max_weight_matching(index_of.len(), &edges);
    let match_ms = clock.elapsed();

    let clock = Instant::now();
    let by_pair: HashMap<(u32, u32), &Plan> =
        plans.iter().map(|p| ((index_of[&p.candidate.a], index_of[&p.candidate.b]), p)).collect();
    let made: Vec<&Plan> = chosen.iter().filter_map(|pair| by_pair.get(pair).copied()).collect();
    let mut figures = RoundFigures {
        period,
        started_at: now,
        members_considered: considered,
        // Every member of a pair that could meet is in the graph.
        members_matchable: index_of.len() as i64,
        candidate_pairs: pairs.len() as i64,
        pairs_made: made.len() as i64,
        total_weight: made.iter().map(|p| p.weight).sum(),
        load_ms: millis(load_ms),
        score_ms: millis(score_ms),
        match_ms: millis(match_ms),
        write_ms: 0,
    };
    let suggestions: Vec<NewSuggestion> = made
        .iter()
        .map(|plan| NewSuggestion {
            a: plan.candidate.a,
            b: plan.candidate.b,
            venue: plan.venue,
            starts_at: plan.starts_at,
            weight: plan.weight,
            a_follows_b: plan.candidate.a_follows_b,
            b_follows_a: plan.candidate.b_follows_a,
            shared_interests: plan.shared.clone(),
        })
        .collect();
    if dry_run {
        figures.write_ms = millis(clock.elapsed());
        tx.rollback().await?;
        return Ok(Outcome::Ran(figures));
    }
    let round = match store::insert_round(&mut tx, &figures, started_by).await {
        Ok(round) => round,
        // A runner that committed this period's round just before our snapshot was taken.
        Err(sqlx::Error::Database(db)) if db.constraint() == Some("scheduler_rounds_period_key") => {
            return Ok(Outcome::AlreadyDone(period));
        }
        Err(other) => return Err(other.into()),
    };
    store::insert_suggestions(&mut tx, round, &suggestions).await?;
    let notices: Vec<(i64, Notice)> = made
        .iter()
        .flat_map(|plan| {
            let (a, b) = (&people[&plan.candidate.a], &people[&plan.candidate.b]);
            let place = venues.name_of(plan.venue);
            [(a.id, notice(a, b, place, plan.starts_at)), (b.id, notice(b, a, place, plan.starts_at))]
        })
        .collect();
    crate::notify::store::record_all(&mut tx, &notices).await?;
    figures.write_ms = millis(clock.elapsed());
    store::update_write_time(&mut *tx, round, figures.write_ms).await?;
    tx.commit().await?;
    Ok(Outcome::Ran(figures))
}

/// What `to` is told of a suggestion with `other`: the time in their own zone. Names are
/// marked with `isolate`, so that their direction cannot turn the sentence around them.
fn notice(to: &Person, other: &Person, place: &str, starts_at: DateTime<Utc>) -> Notice {
    let when = local_label(starts_at, to.time_zone.parse().unwrap_or(Tz::UTC));
    let (name, place) = (isolate(&other.display_name), isolate(place));
    let text = format!("Coffee with {name}? Cuppa suggests {when} at {place}");
    let body = format!(
        "{text}.\n\nYou are connected with {name} but have not met yet. Accept and Cuppa sends them an \
         invitation from you; decline and Cuppa will not suggest the two of you again for a while."
    );
    Notice { kind: Kind::SuggestionMade, text, body, link: "/suggestions".to_owned(), actor: Some(other.id) }
}

/// What the other side is told when a suggestion is withdrawn: that it is off, and no reason.
pub fn withdrawn_notice(taken: &store::Withdrawn) -> Notice {
    let when = local_label(taken.starts_at, taken.other_zone.parse().unwrap_or(Tz::UTC));
    let text = format!(
        "The suggested coffee with {} ({when} at {}) is off",
        isolate(&taken.member_name),
        isolate(&taken.venue_name)
    );
    let body =
        format!("{text}.\n\nIt will not take place. Later rounds will suggest other people you are connected with.");
    Notice {
        kind: Kind::SuggestionWithdrawn,
        text,
        body,
        link: "/suggestions".to_owned(),
        actor: Some(taken.member_id),
    }
}

/// Runs each week's round once it is due, checking every few minutes, so a server that was
/// down at the hour runs it when it comes back. The period's unique row makes replicas and
/// restarts harmless: at most one round a week is written.
pub async fn run_weekly(pool: PgPool, settings: Settings, mut shutdown: Shutdown) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(300));
    let mut done: Option<NaiveDate> = None;
    loop {
        tokio::select! {
            _ = every.tick() => {}
            () = shutdown.wait() => return,
        }
        let now = Utc::now();
        let period = period_of(now);
        if done == Some(period) || now < due_at(period, settings.weekday, settings.hour) {
            continue;
        }
        match run(&pool, &settings, now, None, false).await {
            Ok(Outcome::Ran(figures)) => {
                tracing::info!(period = %period, pairs = figures.pairs_made, ms = figures.total_ms(), "scheduler round written");
                done = Some(period);
            }
            Ok(Outcome::AlreadyDone(_)) => done = Some(period),
            Ok(Outcome::AlreadyRunning) => {}
            Err(err) => tracing::warn!(error = %err, "scheduler round failed; trying again later"),
        }
    }
}

fn millis(elapsed: std::time::Duration) -> i64 {
    i64::try_from(elapsed.as_millis()).unwrap_or(i64::MAX)
}

/// A candidate pair that could meet: its hour, place and weight.
struct Plan<'a> {
    candidate: &'a Candidate,
    starts_at: DateTime<Utc>,
    venue: i64,
    weight: i64,
    shared: Vec<String>,
}

/// Works out each candidate pair's earliest common hour, place and score, and drops the pairs
/// that have no common hour, no approved place in their city, or a weight of zero or less.
fn plan_pairs<'a>(
    pairs: &'a [Candidate],
    people: &HashMap<i64, Person>,
    rounds: &[(i64, DateTime<Utc>)],
    horizon: &mut Horizon,
    venues: &Venues,
) -> Vec<Plan<'a>> {
    let free: HashMap<i64, _> = people.values().map(|p| (p.id, free_time(horizon, p))).collect();
    let waited: HashMap<i64, u32> = people.values().map(|p| (p.id, rounds_waited(p, rounds))).collect();
    pairs
        .iter()
        .filter_map(|c| {
            let (a, b) = (people.get(&c.a)?, people.get(&c.b)?);
            let starts_at = horizon.earliest_common(free.get(&c.a)?, free.get(&c.b)?)?;
            let venue = venues.choose(c)?;
            let shared: Vec<String> = a.interests.iter().filter(|i| b.interests.contains(i)).cloned().collect();
            let affinity = Affinity {
                mutual: c.a_follows_b && c.b_follows_a,
                shared_interests: shared.len() as u32,
                connected_days: (horizon.start() - c.connected_since).num_days(),
                rounds_waited_a: waited.get(&c.a).copied().unwrap_or(0),
                rounds_waited_b: waited.get(&c.b).copied().unwrap_or(0),
                earlier_declines: u32::try_from(c.declines).unwrap_or(u32::MAX),
            };
            let weight = score::score(&affinity);
            (weight > 0).then_some(Plan { candidate: c, starts_at, venue, weight, shared })
        })
        .collect()
}

/// When the person is free in the horizon: their weekly windows, less the coffees they have.
pub fn free_time(horizon: &mut Horizon, person: &Person) -> FreeTime {
    let mut free = horizon.free_time(person.time_zone.parse().unwrap_or(Tz::UTC), &person.windows);
    for &start in &person.busy {
        horizon.mark_busy(&mut free, start);
    }
    free
}

/// Rounds run since the member joined and since the last round that suggested them anything.
pub fn rounds_waited(person: &Person, rounds: &[(i64, DateTime<Utc>)]) -> u32 {
    let after = person.last_round.unwrap_or(0);
    let waited = rounds.iter().filter(|(id, started)| *id > after && *started > person.joined_at).count();
    u32::try_from(waited).unwrap_or(u32::MAX)
}

/// The matching core's input: members numbered 0.. in id order (so the same candidates give
/// the same graph), and one edge a planned pair.
fn graph_of(plans: &[Plan]) -> (HashMap<i64, u32>, Vec<matching::Edge>) {
    let mut ids: Vec<i64> = plans.iter().flat_map(|p| [p.candidate.a, p.candidate.b]).collect();
    ids.sort_unstable();
    ids.dedup();
    let index_of: HashMap<i64, u32> = ids.iter().enumerate().map(|(i, &id)| (id, i as u32)).collect();
    let edges = plans.iter().map(|p| (index_of[&p.candidate.a], index_of[&p.candidate.b], p.weight)).collect();
    (index_of, edges)
}

/// The approved places, by city, and the places each member has met someone at.
struct Venues {
    by_city: HashMap<String, Vec<i64>>,
    names: HashMap<i64, String>,
    met_at: HashMap<i64, HashSet<i64>>,
}

impl Venues {
    async fn load(conn: &mut PgConnection) -> sqlx::Result<Venues> {
        let (mut by_city, mut names) = (HashMap::<String, Vec<i64>>::new(), HashMap::new());
        for place in store::list_approved_venues(&mut *conn).await? {
            by_city.entry(place.city).or_default().push(place.id);
            names.insert(place.id, place.name);
        }
        let mut met_at: HashMap<i64, HashSet<i64>> = HashMap::new();
        for (member, venue) in store::list_met_venues(&mut *conn).await? {
            met_at.entry(member).or_default().insert(venue);
        }
        Ok(Venues { by_city, names, met_at })
    }

    fn name_of(&self, venue: i64) -> &str {
        self.names.get(&venue).map_or("", String::as_str)
    }

    /// An approved place in the pair's city, preferring one either has met someone at. Among
    /// equals the pair's ids pick one, so a city's suggestions spread over its places.
    fn choose(&self, pair: &Candidate) -> Option<i64> {
        let places = self.by_city.get(&pair.city)?;
        let known = |v: &&i64| [pair.a, pair.b].iter().any(|m| self.met_at.get(m).is_some_and(|s| s.contains(v)));
        let preferred: Vec<i64> = places.iter().filter(known).copied().collect();
        let from = if preferred.is_empty() { places.as_slice() } else { preferred.as_slice() };
        let spread = (pair.a ^ pair.b).unsigned_abs() % from.len().max(1) as u64;
        from.get(usize::try_from(spread).unwrap_or(0)).copied()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn a_period_is_the_monday_of_its_week() {
        let monday = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        for day in 23..=29 {
            let now = Utc.with_ymd_and_hms(2026, 11, day, 23, 59, 0).unwrap();
            assert_eq!(period_of(now), monday);
        }
        assert_eq!(period_of(Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap()), monday + TimeDelta::days(7));
    }

    #[test]
    fn the_scheduled_hour_falls_in_the_period() {
        let monday = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        assert_eq!(due_at(monday, Weekday::Wed, 6), Utc.with_ymd_and_hms(2026, 11, 25, 6, 0, 0).unwrap());
    }

    fn pair(a: i64, b: i64, city: &str) -> Candidate {
        Candidate {
            a,
            b,
            city: city.into(),
            a_follows_b: true,
            b_follows_a: false,
            connected_since: Utc::now(),
            declines: 0,
        }
    }

    #[test]
    fn a_venue_is_in_the_pairs_city_and_one_either_has_met_at_comes_first() {
        let venues = Venues {
            by_city: HashMap::from([("london".to_owned(), vec![10, 11, 12]), ("leeds".to_owned(), vec![20])]),
            names: HashMap::new(),
            met_at: HashMap::from([(2, HashSet::from([12])), (7, HashSet::from([20]))]),
        };
        assert_eq!(venues.choose(&pair(1, 2, "london")), Some(12), "b has met someone at 12");
        assert_eq!(venues.choose(&pair(2, 3, "london")), Some(12), "a has");
        assert_eq!(venues.choose(&pair(7, 9, "london")), venues.choose(&pair(7, 9, "london")), "the same pick twice");
        assert!(
            [10, 11, 12].contains(&venues.choose(&pair(7, 9, "london")).unwrap()),
            "a place met at elsewhere does not count"
        );
        assert_eq!(venues.choose(&pair(1, 3, "leeds")), Some(20));
        assert_eq!(venues.choose(&pair(1, 3, "york")), None, "no approved place, no suggestion");
        let spread: HashSet<i64> = (1..40).filter_map(|a| venues.choose(&pair(a + 100, a + 200, "london"))).collect();
        assert!(spread.len() > 1, "pairs spread over a city's places: {spread:?}");
    }

    #[test]
    fn waiting_counts_rounds_since_joining_and_since_the_last_suggestion() {
        let at = |d| Utc.with_ymd_and_hms(2026, 11, d, 6, 0, 0).unwrap();
        let rounds = [(1, at(2)), (2, at(9)), (3, at(16)), (4, at(23))];
        let person = |joined, last| Person {
            id: 1,
            display_name: "Ada".into(),
            time_zone: "UTC".into(),
            interests: vec![],
            windows: vec![],
            busy: vec![],
            joined_at: joined,
            last_round: last,
        };
        assert_eq!(rounds_waited(&person(at(1), None), &rounds), 4);
        assert_eq!(rounds_waited(&person(at(10), None), &rounds), 2);
        assert_eq!(rounds_waited(&person(at(1), Some(3)), &rounds), 1);
        assert_eq!(rounds_waited(&person(at(1), Some(4)), &rounds), 0);
    }
}
