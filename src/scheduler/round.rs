//! One scheduling round, from the candidate pairs to the suggestions members see.
//!
//! A round holds a transaction-level advisory lock for its whole run, so of two runners (two
//! replicas, or the weekly job and an admin's button) one runs and the other is told a round
//! is already running; the lock goes with the transaction, also when a round fails half-way.
//! A round is for one period, the week (Monday, UTC) it runs in, and `scheduler_rounds.period`
//! is unique: once a week's round is written, another run that week writes nothing.
//!
//! The matching makes as many pairs as the candidate graph allows, and among the matchings of
//! that size takes one of the greatest total affinity (`matching::cardinality_first`). By
//! affinity alone a round suggested a coffee to 76.7% of the members who could have one on the
//! 100,000-member seed, where 81.6% can be reached: one well-liked pair in the middle of a
//! chain left two people on either side without anyone.
//!
//! Where the time goes, at a million members and ten million follows on two cores: reading,
//! 4-5 s, the follows on the round's connection and the rest on a second one at the same time;
//! making the pairs, 1 s; free time and scores, 1.3 s; the matching, 1 s; writing 291,000
//! suggestions and 582,000 notices with their emails, 31 s, most of it PostgreSQL's foreign key
//! checks and index entries, row by row (40 s in all; at 100,000 members, 2.7-2.9 s).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use anyhow::Context;

use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc, Weekday};
use chrono_tz::Tz;
use sqlx::{PgConnection, PgPool};

use super::candidates::{self, Pair, Person, RoundData};
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

/// The graph a round's matching solves: the members of at least one pair that could meet,
/// numbered 0.. in id order, and one edge for each such pair, weighted `lift` plus the pair's
/// affinity (see `matching::cardinality_first`: the most pairs first, then the best-liked).
/// `cuppa schedule --dry-run --edges FILE` writes it for other solvers to check.
pub struct Graph {
    pub members: usize,
    pub lift: i64,
    pub edges: Vec<matching::Edge>,
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
    Ok(run_with_graph(pool, settings, now, started_by, dry_run).await?.0)
}

/// [`run`], also giving the graph the matching solved whenever the round was worked out.
pub async fn run_with_graph(
    pool: &PgPool,
    settings: &Settings,
    now: DateTime<Utc>,
    started_by: Option<i64>,
    dry_run: bool,
) -> anyhow::Result<(Outcome, Option<Graph>)> {
    let period = period_of(now);
    let mut tx = pool.begin().await?;
    if !store::start_round(&mut tx, ROUND_LOCK).await? {
        return Ok((Outcome::AlreadyRunning, None));
    }
    // Also for a dry run: once the week's pairs are written they are in their cool-down, and a
    // dry run would describe a round that will never run.
    if store::round_exists(&mut *tx, period).await? {
        return Ok((Outcome::AlreadyDone(period), None));
    }

    let clock = Instant::now();
    let declined_after = now - TimeDelta::weeks(i64::from(settings.cool_down_weeks));
    // A second connection reads half of it at the same time, if the pool gives one quickly;
    // a busy pool is no reason to wait, the round then reads it all on its own.
    let helper = tokio::time::timeout(Duration::from_millis(500), pool.acquire()).await.ok().and_then(Result::ok);
    let rounds = store::list_round_starts(&mut *tx).await?;
    let loaded =
        candidates::load_round(&mut tx, helper, rounds.clone(), period, settings.cool_down_weeks, declined_after, now)
            .await?;
    let venues = Venues::load(&mut tx).await?;
    let read = clock.elapsed();

    // Seconds of computation at scale: on the blocking pool, so that the runtime's workers keep
    // answering pages meanwhile. Making the pairs counts as loading.
    let horizon = Horizon::new(now, settings.lead, settings.horizon_days);
    let (data, venues, worked, pairing) = tokio::task::spawn_blocking(move || {
        let clock = Instant::now();
        let data = loaded.into_round_data();
        let pairing = clock.elapsed();
        let worked = work_out(&data, &rounds, horizon, &venues);
        (data, venues, worked, pairing)
    })
    .await?;
    let Worked { made, graph, score_ms, match_ms } = worked?;
    let load_ms = read + pairing;
    tracing::debug!(
        load = %data.timings.iter().map(|(name, t)| format!("{name} {} ms", t.as_millis())).collect::<Vec<_>>().join(", "),
        "scheduler round loaded"
    );

    let clock = Instant::now();
    let people = &data.people;
    let mut figures = RoundFigures {
        period,
        started_at: now,
        members_considered: people.len() as i64,
        // Every member of a pair that could meet is in the graph.
        members_matchable: graph.members as i64,
        candidate_pairs: data.pairs.len() as i64,
        pairs_made: made.len() as i64,
        total_weight: made.iter().map(|m| m.weight).sum(),
        load_ms: millis(load_ms),
        score_ms: millis(score_ms),
        match_ms: millis(match_ms),
        write_ms: 0,
    };
    if dry_run {
        figures.write_ms = millis(clock.elapsed());
        tx.rollback().await?;
        return Ok((Outcome::Ran(figures), Some(graph)));
    }
    let suggestions: Vec<NewSuggestion> = made
        .iter()
        .map(|m| NewSuggestion {
            a: people[m.pair.a as usize].id,
            b: people[m.pair.b as usize].id,
            venue: m.venue,
            starts_at: m.starts_at,
            weight: m.weight,
            a_follows_b: m.pair.a_follows_b,
            b_follows_a: m.pair.b_follows_a,
            shared_interests: m.shared.clone(),
        })
        .collect();
    let round = match store::insert_round(&mut tx, &figures, started_by).await {
        Ok(round) => round,
        // A runner that committed this period's round just before our snapshot was taken.
        Err(sqlx::Error::Database(db)) if db.constraint() == Some("scheduler_rounds_period_key") => {
            return Ok((Outcome::AlreadyDone(period), Some(graph)));
        }
        Err(other) => return Err(other.into()),
    };
    let mut members: Vec<i64> = suggestions.iter().flat_map(|s| [s.a, s.b]).collect();
    members.sort_unstable();
    store::lock_members(&mut tx, &members).await?;
    store::insert_suggestions(&mut tx, round, &suggestions).await?;
    let suggested = clock.elapsed();
    let mut notices: Vec<(i64, Notice)> = made
        .iter()
        .flat_map(|m| {
            let (a, b) = (&people[m.pair.a as usize], &people[m.pair.b as usize]);
            let place = venues.name_of(m.venue);
            [(a.id, notice(a, b, place, m.starts_at)), (b.id, notice(b, a, place, m.starts_at))]
        })
        .collect();
    // In member order, so that the statement visits the members' rows and index pages in order
    // (its foreign key checks and joins): at a million members it took 19 s rather than 34 s.
    notices.sort_by_key(|(member, _)| *member);
    crate::notify::store::record_all(&mut tx, &notices).await?;
    figures.write_ms = millis(clock.elapsed());
    store::update_write_time(&mut *tx, round, figures.write_ms).await?;
    tx.commit().await?;
    tracing::debug!(
        suggestions_ms = millis(suggested),
        notices_ms = figures.write_ms - millis(suggested),
        commit_ms = millis(clock.elapsed()) - figures.write_ms,
        "scheduler round written"
    );
    Ok((Outcome::Ran(figures), Some(graph)))
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

/// A candidate pair that could meet: its index in the round's pairs, the first slot both are
/// free for a coffee, and its affinity.
#[derive(Clone, Copy)]
struct Plan {
    pair: u32,
    slot: u32,
    weight: i64,
}

/// A pair the matching chose, with its hour and place.
struct Made {
    pair: Pair,
    venue: i64,
    starts_at: DateTime<Utc>,
    weight: i64,
    shared: Vec<String>,
}

/// What the pure phases of a round give.
struct Worked {
    made: Vec<Made>,
    graph: Graph,
    score_ms: Duration,
    match_ms: Duration,
}

/// The pure phases: which pairs could meet and how much they would like to, the matching, and
/// for each pair chosen its hour and place.
fn work_out(
    data: &RoundData,
    rounds: &[(i64, DateTime<Utc>)],
    mut horizon: Horizon,
    venues: &Venues,
) -> anyhow::Result<Worked> {
    let clock = Instant::now();
    let plans = plan_pairs(data, rounds, &mut horizon, venues);
    let score_ms = clock.elapsed();

    let clock = Instant::now();
    // Members numbered in id order (people are), so the same candidates give the same graph.
    let mut vertex = vec![u32::MAX; data.people.len()];
    for plan in &plans {
        let pair = &data.pairs[plan.pair as usize];
        vertex[pair.a as usize] = 0;
        vertex[pair.b as usize] = 0;
    }
    let mut person_of = Vec::new();
    for (i, v) in vertex.iter_mut().enumerate() {
        if *v == 0 {
            *v = person_of.len() as u32;
            person_of.push(i as u32);
        }
    }
    let edges: Vec<matching::Edge> = plans
        .iter()
        .map(|plan| {
            let pair = &data.pairs[plan.pair as usize];
            (vertex[pair.a as usize], vertex[pair.b as usize], plan.weight)
        })
        .collect();
    let (lift, edges) = matching::cardinality_first(person_of.len(), &edges)
        .context("the round's affinities are too large for the matching")?;
    let chosen = matching::max_weight_matching(person_of.len(), &edges);
    let match_ms = clock.elapsed();

    // Plans are in pair order, and pairs in (a, b) order, as the chosen pairs map back.
    let made = chosen
        .iter()
        .filter_map(|&(u, v)| {
            let (a, b) = (person_of[u as usize], person_of[v as usize]);
            let at =
                plans.binary_search_by_key(&(a, b), |p| (data.pairs[p.pair as usize].a, data.pairs[p.pair as usize].b));
            let plan = plans[at.ok()?];
            let pair = data.pairs[plan.pair as usize];
            let (pa, pb) = (&data.people[a as usize], &data.people[b as usize]);
            Some(Made {
                pair,
                venue: venues.choose(&data.cities[data.city[a as usize] as usize], pa.id, pb.id)?,
                starts_at: horizon.slot_start(plan.slot as usize),
                weight: plan.weight,
                shared: pa.interests.iter().filter(|i| pb.interests.contains(i)).cloned().collect(),
            })
        })
        .collect();
    let graph = Graph { members: person_of.len(), lift, edges };
    Ok(Worked { made, graph, score_ms, match_ms })
}

/// Works out each candidate pair's earliest common slot and affinity, and drops the pairs that
/// have no common hour, no approved place in their city, or a weight of zero or less. Pairs are
/// many (633,000 at 100,000 members, 6.4 million at a million): they are planned on every
/// core, interests are compared as numbers, and a pair's place and shared interests are worked
/// out only once the matching has chosen it.
fn plan_pairs(data: &RoundData, rounds: &[(i64, DateTime<Utc>)], horizon: &mut Horizon, venues: &Venues) -> Vec<Plan> {
    let mut needed = vec![false; data.people.len()];
    for pair in &data.pairs {
        needed[pair.a as usize] = true;
        needed[pair.b as usize] = true;
    }
    let nobody = FreeTime::none(horizon);
    let free: Vec<FreeTime> = data
        .people
        .iter()
        .zip(&needed)
        .map(|(p, &needed)| if needed { free_time(horizon, p) } else { nobody.clone() })
        .collect();
    let waited: Vec<u32> = data.people.iter().map(|p| rounds_waited(p, rounds)).collect();
    let mut numbered: HashMap<&str, u32> = HashMap::new();
    let interests: Vec<Vec<u32>> = data
        .people
        .iter()
        .map(|p| {
            p.interests
                .iter()
                .map(|i| {
                    let next = numbered.len() as u32;
                    *numbered.entry(i.as_str()).or_insert(next)
                })
                .collect()
        })
        .collect();
    let has_place: Vec<bool> = data.cities.iter().map(|c| venues.by_city.contains_key(c)).collect();
    let start = horizon.start();
    let horizon = &*horizon;
    let plan = |i: usize, c: &Pair| -> Option<Plan> {
        let (a, b) = (c.a as usize, c.b as usize);
        if !has_place[data.city[a] as usize] {
            return None;
        }
        let slot = horizon.earliest_common_slot(&free[a], &free[b])?;
        let affinity = Affinity {
            mutual: c.a_follows_b && c.b_follows_a,
            shared_interests: interests[a].iter().filter(|i| interests[b].contains(i)).count() as u32,
            connected_days: (start - c.connected_since).num_days(),
            rounds_waited_a: waited[a],
            rounds_waited_b: waited[b],
            earlier_declines: c.declines,
        };
        let weight = score::score(&affinity);
        (weight > 0).then_some(Plan { pair: i as u32, slot: slot as u32, weight })
    };
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let share = data.pairs.len().div_ceil(workers).max(1);
    std::thread::scope(|scope| {
        let parts: Vec<_> = data
            .pairs
            .chunks(share)
            .enumerate()
            .map(|(k, chunk)| {
                let plan = &plan;
                scope.spawn(move || {
                    chunk.iter().enumerate().filter_map(|(j, c)| plan(k * share + j, c)).collect::<Vec<_>>()
                })
            })
            .collect();
        parts.into_iter().flat_map(|part| part.join().expect("planning a pair does not panic")).collect()
    })
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
    rounds_waited_since(person.joined_at, person.last_round, rounds)
}

/// Rounds run after `joined_at` and after round `last_round` (any round when none).
pub fn rounds_waited_since(joined_at: DateTime<Utc>, last_round: Option<i64>, rounds: &[(i64, DateTime<Utc>)]) -> u32 {
    let after = last_round.unwrap_or(0);
    let waited = rounds.iter().filter(|(id, started)| *id > after && *started > joined_at).count();
    u32::try_from(waited).unwrap_or(u32::MAX)
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
    fn choose(&self, city: &str, a: i64, b: i64) -> Option<i64> {
        let places = self.by_city.get(city)?;
        let known = |v: &&i64| [a, b].iter().any(|m| self.met_at.get(m).is_some_and(|s| s.contains(v)));
        let preferred: Vec<i64> = places.iter().filter(known).copied().collect();
        let from = if preferred.is_empty() { places.as_slice() } else { preferred.as_slice() };
        let spread = (a ^ b).unsigned_abs() % from.len().max(1) as u64;
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

    #[test]
    fn a_venue_is_in_the_pairs_city_and_one_either_has_met_at_comes_first() {
        let venues = Venues {
            by_city: HashMap::from([("london".to_owned(), vec![10, 11, 12]), ("leeds".to_owned(), vec![20])]),
            names: HashMap::new(),
            met_at: HashMap::from([(2, HashSet::from([12])), (7, HashSet::from([20]))]),
        };
        assert_eq!(venues.choose("london", 1, 2), Some(12), "b has met someone at 12");
        assert_eq!(venues.choose("london", 2, 3), Some(12), "a has");
        assert_eq!(venues.choose("london", 7, 9), venues.choose("london", 7, 9), "the same pick twice");
        assert!(
            [10, 11, 12].contains(&venues.choose("london", 7, 9).unwrap()),
            "a place met at elsewhere does not count"
        );
        assert_eq!(venues.choose("leeds", 1, 3), Some(20));
        assert_eq!(venues.choose("york", 1, 3), None, "no approved place, no suggestion");
        let spread: HashSet<i64> = (1..40).filter_map(|a| venues.choose("london", a + 100, a + 200)).collect();
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
