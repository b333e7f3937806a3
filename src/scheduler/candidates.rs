//! Who could be suggested to whom this round: the SQL side of the scheduler, and the join that
//! turns what it reads into candidate pairs.
//!
//! A round reads whole tables: every eligible member, every follow, and the few pairs that are
//! ruled out (met, blocked, an open invitation, cooling down). Each is one plain statement, a
//! sequential scan or a short index range, and the pairs are made in memory, by sorting. Before,
//! one statement grouped the follows into pairs and checked each against five tables (a hash
//! aggregate over every follow, an index probe into `met_pairs` for each of 666,000 pairs, a
//! sort), and the members were read by a list of ids: the reads took 3.2 s at 100,000 members
//! and 1,000,000 follows, and 57 s at ten times that. Plain rows, read on two connections at
//! once and paired in Rust, take 0.5 s and 5 s. Pairs without a common hour or a venue are
//! dropped later, in `round`, because those need the slots and the venues.
//!
//! `list_partners_of` asks the same question for one member, in SQL, for the page that explains
//! a missing suggestion; keep the two sets of conditions the same.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::pool::PoolConnection;
use sqlx::{Acquire, PgConnection, PgExecutor, Postgres};

use super::score::MAX_ROUNDS_COUNTED;
use crate::members::model::Window;

/// Two members who could be suggested to each other, `a < b`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub a: i64,
    pub b: i64,
    /// Their city, lower-cased.
    pub city: String,
    pub a_follows_b: bool,
    pub b_follows_a: bool,
    /// When the first follow between them was made.
    pub connected_since: DateTime<Utc>,
    /// Earlier suggestions of this pair, and invitations between them, that one of them declined.
    pub declines: i64,
}

/// The candidate pairs (see [`Pairing`] for what makes one), by ids, in `(a, b)` order: what a
/// round pairs, for tests and tools. A round uses [`load_round`], which reads the same rows.
pub async fn list_candidates<'c>(
    db: impl Acquire<'c, Database = Postgres>,
    period: NaiveDate,
    cool_down_weeks: i32,
    declined_after: DateTime<Utc>,
) -> sqlx::Result<Vec<Candidate>> {
    let mut conn = db.acquire().await?;
    let rounds = super::store::list_round_starts(&mut *conn).await?;
    let follows = list_follows(&mut conn).await?;
    let rest = load_rest(&mut conn, rounds, period, cool_down_weeks, declined_after, Utc::now()).await?;
    let data = Loaded { follows, rest, timings: Vec::new() }.into_round_data();
    Ok(data
        .pairs
        .iter()
        .map(|p| Candidate {
            a: data.people[p.a as usize].id,
            b: data.people[p.b as usize].id,
            city: data.cities[data.city[p.a as usize] as usize].clone(),
            a_follows_b: p.a_follows_b,
            b_follows_a: p.b_follows_a,
            connected_since: p.connected_since,
            declines: i64::from(p.declines),
        })
        .collect())
}

/// Everything a round knows about its members and their pairs, from one snapshot.
pub struct RoundData {
    /// The eligible members (the `scheduler_eligible` view), in id order; a member's place in
    /// this list is their index in `pairs`. See [`Person::last_round`] for what it holds here.
    pub people: Vec<Person>,
    /// Each member's city, as an index into `cities` (lower-cased names).
    pub city: Vec<u32>,
    pub cities: Vec<String>,
    /// The candidate pairs, in `(a, b)` order.
    pub pairs: Vec<Pair>,
    /// How long each step took, for the round's log.
    pub timings: Vec<(&'static str, Duration)>,
}

/// A candidate pair by the two members' indexes in [`RoundData::people`], `a < b`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pair {
    pub a: u32,
    pub b: u32,
    pub a_follows_b: bool,
    pub b_follows_a: bool,
    /// When the first follow between them was made.
    pub connected_since: DateTime<Utc>,
    /// Earlier suggestions of this pair, and invitations between them, that one of them declined.
    pub declines: u32,
}

/// The rows a round reads, as read: [`Loaded::into_round_data`] makes them into pairs.
pub struct Loaded {
    follows: Vec<Follow>,
    rest: Rest,
    pub timings: Vec<(&'static str, Duration)>,
}

/// All a round reads but the follows.
struct Rest {
    eligible: Vec<EligibleRow>,
    profiles: Vec<ProfileRow>,
    /// Each eligible member's latest round, where it counts (see [`Person::last_round`]).
    last_round: HashMap<i64, i64>,
    ruled_out: Vec<(i64, i64)>,
    declined: Vec<(i64, i64)>,
    windows: Vec<WindowRow>,
    busy: Vec<BusyRow>,
    timings: Vec<(&'static str, Duration)>,
}

/// Reads what a round needs: the eligible members with their profiles, availability, the
/// coffees they already have after `now` and the latest round that suggested them anything,
/// their follows, and the pairs ruled out (see [`Pairing`]). `rounds` are the rounds so far
/// (`store::list_round_starts`). Eight statements (nine when some members joined lately), none
/// per member.
///
/// With a `helper` connection the follows (the most rows by far) are read on `conn` while the
/// rest is read on the helper at the same time, in a transaction that imports `conn`'s snapshot
/// (`pg_export_snapshot`), so both see the same moment: the two halves take about as long.
/// Without one, all in turn.
pub async fn load_round(
    conn: &mut PgConnection,
    helper: Option<PoolConnection<Postgres>>,
    rounds: Vec<(i64, DateTime<Utc>)>,
    period: NaiveDate,
    cool_down_weeks: i32,
    declined_after: DateTime<Utc>,
    now: DateTime<Utc>,
) -> anyhow::Result<Loaded> {
    let clock = Instant::now();
    let (beside, rounds) = match helper {
        Some(helper) => {
            let snapshot = super::store::export_snapshot(&mut *conn).await?;
            let task = load_rest_beside(helper, snapshot, rounds, period, cool_down_weeks, declined_after, now);
            (Some(tokio::spawn(task)), Vec::new())
        }
        None => (None, rounds),
    };
    let follows = list_follows(&mut *conn).await?;
    let mut timings = vec![("follows", clock.elapsed())];
    let rest = match beside {
        Some(task) => {
            let rest = task.await??;
            timings.push(("then waiting for the rest", clock.elapsed() - timings[0].1));
            rest
        }
        None => load_rest(conn, rounds, period, cool_down_weeks, declined_after, now).await?,
    };
    Ok(Loaded { follows, rest, timings })
}

/// [`load_rest`] on a helper connection, in a transaction that sees `snapshot`. Boxed with its
/// `Send` stated here, where the lifetimes are concrete, for `tokio::spawn`.
fn load_rest_beside(
    mut helper: PoolConnection<Postgres>,
    snapshot: String,
    rounds: Vec<(i64, DateTime<Utc>)>,
    period: NaiveDate,
    cool_down_weeks: i32,
    declined_after: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Pin<Box<dyn Future<Output = sqlx::Result<Rest>> + Send>> {
    Box::pin(async move {
        let mut tx = helper.begin().await?;
        super::store::import_snapshot(&mut tx, &snapshot).await?;
        let rest = load_rest(&mut tx, rounds, period, cool_down_weeks, declined_after, now).await?;
        tx.rollback().await?;
        Ok(rest)
    })
}

/// Reads all but the follows, in turn.
async fn load_rest(
    conn: &mut PgConnection,
    rounds: Vec<(i64, DateTime<Utc>)>,
    period: NaiveDate,
    cool_down_weeks: i32,
    declined_after: DateTime<Utc>,
    now: DateTime<Utc>,
) -> sqlx::Result<Rest> {
    let mut clock = Instant::now();
    let mut timings = Vec::new();
    let mut lap = |name: &'static str, timings: &mut Vec<_>| {
        timings.push((name, clock.elapsed()));
        clock = Instant::now();
    };
    let eligible = list_eligible(&mut *conn).await?;
    let profiles = list_profiles(&mut *conn).await?;
    lap("members", &mut timings);
    let last_round = latest_rounds(&mut *conn, &eligible, &profiles, &rounds).await?;
    lap("latest rounds", &mut timings);
    let ruled_out = list_ruled_out(&mut *conn, period, cool_down_weeks, declined_after).await?;
    let declined = list_declined(&mut *conn).await?;
    lap("ruled out", &mut timings);
    let windows = list_windows(&mut *conn).await?;
    let busy = list_busy(&mut *conn, now).await?;
    lap("availability", &mut timings);
    Ok(Rest { eligible, profiles, last_round, ruled_out, declined, windows, busy, timings })
}

impl Loaded {
    /// The people and their candidate pairs: pure work, seconds of it at a million members, for
    /// the blocking pool.
    pub fn into_round_data(self) -> RoundData {
        let clock = Instant::now();
        let Loaded { follows, rest, mut timings } = self;
        let Rest { eligible, profiles, last_round, ruled_out, declined, windows, busy, timings: read } = rest;
        timings.extend(read);
        let mut cities: Vec<String> = Vec::new();
        let mut numbered: HashMap<&str, u32> = HashMap::new();
        let city: Vec<u32> = eligible
            .iter()
            .map(|m| {
                *numbered.entry(m.city.as_str()).or_insert_with(|| {
                    cities.push(m.city.clone());
                    (cities.len() - 1) as u32
                })
            })
            .collect();
        let ids: Vec<i64> = eligible.iter().map(|m| m.id).collect();
        let takes_anyone: Vec<bool> = eligible.iter().map(|m| m.takes_anyone).collect();
        let index = IdIndex::new(&ids);
        let pairs =
            Pairing { index: &index, city: &city, takes_anyone: &takes_anyone, follows, ruled_out, declined }.pairs();
        let mut people: Vec<Person> = ids
            .iter()
            .map(|&id| Person {
                id,
                display_name: String::new(),
                time_zone: String::new(),
                interests: Vec::new(),
                windows: Vec::new(),
                busy: Vec::new(),
                joined_at: DateTime::<Utc>::MIN_UTC,
                last_round: last_round.get(&id).copied(),
            })
            .collect();
        for p in profiles {
            if let Some(i) = index.get(p.id) {
                let person = &mut people[i as usize];
                person.display_name = p.display_name;
                person.time_zone = p.time_zone;
                person.interests = p.interests;
                person.joined_at = p.created_at;
            }
        }
        for w in windows {
            if let Some(i) = index.get(w.member_id) {
                people[i as usize].windows.push(Window {
                    weekday: w.weekday,
                    start_minute: w.start_minute,
                    end_minute: w.end_minute,
                });
            }
        }
        for b in busy {
            if let Some(i) = index.get(b.party) {
                people[i as usize].busy.push(b.starts_at);
            }
        }
        timings.push(("pairs", clock.elapsed()));
        RoundData { people, city, cities, pairs, timings }
    }
}

/// An eligible member as the pairing needs them.
struct EligibleRow {
    id: i64,
    city: String,
    takes_anyone: bool,
}

/// Every member in `scheduler_eligible`, in id order (sorted here: a sort costs the database
/// more than Cuppa).
async fn list_eligible(conn: &mut PgConnection) -> sqlx::Result<Vec<EligibleRow>> {
    let mut rows = sqlx::query_as!(
        EligibleRow,
        r#"select id as "id!", city as "city!", invite_policy = 'anyone' as "takes_anyone!" from scheduler_eligible"#
    )
    .fetch_all(conn)
    .await?;
    rows.sort_unstable_by_key(|r| r.id);
    Ok(rows)
}

/// What the pure phases need of a member's profile.
struct ProfileRow {
    id: i64,
    display_name: String,
    time_zone: String,
    interests: Vec<String>,
    created_at: DateTime<Utc>,
}

/// Every member's profile, matched to the eligible by id in Rust: joining `members` to the
/// view over it in SQL tripled the statement's time (3.1 s against 1.1 s at a million members).
async fn list_profiles(conn: &mut PgConnection) -> sqlx::Result<Vec<ProfileRow>> {
    sqlx::query_as!(ProfileRow, "select id, display_name, time_zone, interests, created_at from members")
        .fetch_all(conn)
        .await
}

/// Each eligible member's latest round, where it counts (see [`Person::last_round`]): from the
/// suggestions of the newest `MAX_ROUNDS_COUNTED` rounds, one index range; and, for members who
/// joined after the oldest of those began and had none in them, from their own suggestions.
/// (Two index probes for every member took 20 s at a million members once the suggestions
/// table held a round.)
async fn latest_rounds(
    conn: &mut PgConnection,
    eligible: &[EligibleRow],
    profiles: &[ProfileRow],
    rounds: &[(i64, DateTime<Utc>)],
) -> sqlx::Result<HashMap<i64, i64>> {
    let counted = MAX_ROUNDS_COUNTED as usize;
    let Some(&(oldest_counted, _)) = rounds.len().checked_sub(counted).and_then(|at| rounds.get(at)).or(rounds.first())
    else {
        return Ok(HashMap::new());
    };
    let recent = sqlx::query!(r#"select a_id, b_id, round_id from suggestions where round_id >= $1"#, oldest_counted)
        .fetch_all(&mut *conn)
        .await?;
    let mut latest: HashMap<i64, i64> = HashMap::with_capacity(2 * recent.len());
    for s in recent {
        for member in [s.a_id, s.b_id] {
            let round = latest.entry(member).or_insert(s.round_id);
            *round = (*round).max(s.round_id);
        }
    }
    // With no more rounds than a score counts, the newest are all of them.
    if rounds.len() <= counted {
        return Ok(latest);
    }
    // Those who waited fewer of the newest rounds than the score counts: their count depends on
    // their latest round, older or not.
    let starts: Vec<DateTime<Utc>> = rounds[rounds.len() - counted..].iter().map(|r| r.1).collect();
    let eligible_ids: std::collections::HashSet<i64> = eligible.iter().map(|m| m.id).collect();
    let newcomers: Vec<i64> = profiles
        .iter()
        .filter(|p| {
            eligible_ids.contains(&p.id)
                && !latest.contains_key(&p.id)
                && starts.iter().filter(|&&started| started > p.created_at).count() < counted
        })
        .map(|p| p.id)
        .collect();
    if !newcomers.is_empty() {
        let older = sqlx::query!(
            r#"select m.id as "id!",
                      greatest((select max(s.round_id) from suggestions s where s.a_id = m.id),
                               (select max(s.round_id) from suggestions s where s.b_id = m.id)) as last_round
               from members m
               where m.id = any($1)"#,
            &newcomers
        )
        .fetch_all(&mut *conn)
        .await?;
        latest.extend(older.into_iter().filter_map(|r| Some((r.id, r.last_round?))));
    }
    Ok(latest)
}

/// One follow, as the pairing reads it.
pub struct Follow {
    pub follower_id: i64,
    pub followee_id: i64,
    pub created_at: DateTime<Utc>,
}

async fn list_follows(conn: &mut PgConnection) -> sqlx::Result<Vec<Follow>> {
    sqlx::query_as!(Follow, "select follower_id, followee_id, created_at from follows").fetch_all(conn).await
}

/// Pairs that may not be suggested this round, either way round: they have met, one blocks the
/// other, an invitation between them is open, or they are cooling down (suggested to each other
/// in a round of the last `cool_down_weeks` weeks before `period`, or one of them declined a
/// suggestion of the other since `declined_after`).
async fn list_ruled_out(
    conn: &mut PgConnection,
    period: NaiveDate,
    cool_down_weeks: i32,
    declined_after: DateTime<Utc>,
) -> sqlx::Result<Vec<(i64, i64)>> {
    let rows = sqlx::query!(
        r#"select a_id as "x!", b_id as "y!" from met_pairs
           union all
           select blocker_id, blocked_id from blocks
           union all
           select inviter_id, invitee_id from invitations where state in ('pending', 'countered', 'accepted')
           union all
           select s.a_id, s.b_id
           from scheduler_rounds r join suggestions s on s.round_id = r.id
           where r.period > $1::date - 7 * $2::int
           union all
           select a_id, b_id from suggestions where state = 'declined' and answered_at > $3"#,
        period,
        cool_down_weeks,
        declined_after
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.x, r.y)).collect())
}

/// Every declined suggestion and invitation, by the two members, either way round.
async fn list_declined(conn: &mut PgConnection) -> sqlx::Result<Vec<(i64, i64)>> {
    let rows = sqlx::query!(
        r#"select a_id as "x!", b_id as "y!" from suggestions where state = 'declined'
           union all
           select inviter_id, invitee_id from invitations where state = 'declined'"#
    )
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| (r.x, r.y)).collect())
}

struct WindowRow {
    member_id: i64,
    weekday: i16,
    start_minute: i16,
    end_minute: i16,
}

async fn list_windows(conn: &mut PgConnection) -> sqlx::Result<Vec<WindowRow>> {
    sqlx::query_as!(WindowRow, "select member_id, weekday, start_minute, end_minute from availability")
        .fetch_all(conn)
        .await
}

struct BusyRow {
    party: i64,
    starts_at: DateTime<Utc>,
}

/// Agreed coffees, and suggestions of earlier rounds still waiting for an answer, after `now`:
/// each once for either member.
async fn list_busy(conn: &mut PgConnection, now: DateTime<Utc>) -> sqlx::Result<Vec<BusyRow>> {
    sqlx::query_as!(
        BusyRow,
        r#"select inviter_id as "party!", accepted_time as "starts_at!"
           from invitations where state = 'accepted' and accepted_time > $1
           union all
           select invitee_id, accepted_time
           from invitations where state = 'accepted' and accepted_time > $1
           union all
           select a_id, starts_at from suggestions where state = 'open' and starts_at > $1
           union all
           select b_id, starts_at from suggestions where state = 'open' and starts_at > $1"#,
        now
    )
    .fetch_all(conn)
    .await
}

/// Member ids to their index in a sorted list of ids: a table when the ids are dense, as
/// identity columns are, a hash map otherwise.
pub struct IdIndex {
    first: i64,
    table: Vec<u32>,
    map: HashMap<i64, u32>,
}

impl IdIndex {
    const ABSENT: u32 = u32::MAX;

    /// `ids` sorted, distinct, fewer than 2^32 - 1.
    pub fn new(ids: &[i64]) -> IdIndex {
        let (Some(&first), Some(&last)) = (ids.first(), ids.last()) else {
            return IdIndex { first: 0, table: Vec::new(), map: HashMap::new() };
        };
        let span = u64::try_from(last.wrapping_sub(first)).unwrap_or(u64::MAX).saturating_add(1);
        if span <= 4 * ids.len() as u64 + 1024 {
            let mut table = vec![Self::ABSENT; span as usize];
            for (i, &id) in ids.iter().enumerate() {
                table[(id - first) as usize] = i as u32;
            }
            IdIndex { first, table, map: HashMap::new() }
        } else {
            IdIndex { first, table: Vec::new(), map: ids.iter().enumerate().map(|(i, &id)| (id, i as u32)).collect() }
        }
    }

    pub fn get(&self, id: i64) -> Option<u32> {
        if self.table.is_empty() {
            return self.map.get(&id).copied();
        }
        let at = usize::try_from(id.checked_sub(self.first)?).ok()?;
        self.table.get(at).copied().filter(|&i| i != Self::ABSENT)
    }
}

/// The pairs joined by a follow in either direction where:
/// - both are eligible (active, opted in to matching, with a city) and in the same city (case aside);
/// - each would take an invitation from the other under their own "who may invite me"
///   setting (accepting a suggestion sends one, from either side);
/// - they have not met, neither blocks the other, no invitation is open between them, and they
///   are not cooling down (all in `ruled_out`).
///
/// Who is eligible is the `scheduler_eligible` view: it asks for `status = 'active'`, so
/// suspended members and those an admin has hidden are never candidates.
pub struct Pairing<'a> {
    /// Eligible ids to their index; `city` and `takes_anyone` by that index.
    pub index: &'a IdIndex,
    pub city: &'a [u32],
    /// Whether the member's invite policy is `anyone` (else `following`: `nobody` is not eligible).
    pub takes_anyone: &'a [bool],
    pub follows: Vec<Follow>,
    /// Pairs by ids, in either order.
    pub ruled_out: Vec<(i64, i64)>,
    /// One entry a decline, by ids, in either order.
    pub declined: Vec<(i64, i64)>,
}

/// A follow as the pairing sorts it: the pair's key, whether the smaller index follows the
/// larger, when.
type Link = (u64, bool, DateTime<Utc>);

/// Two runs sorted by key, as one.
fn merge(left: Vec<Link>, right: Vec<Link>) -> Vec<Link> {
    let mut out = Vec::with_capacity(left.len() + right.len());
    let (mut l, mut r) = (left.into_iter().peekable(), right.into_iter().peekable());
    loop {
        let next = match (l.peek(), r.peek()) {
            (Some(x), Some(y)) if y.0 < x.0 => r.next(),
            (Some(_), _) => l.next(),
            (None, _) => r.next(),
        };
        match next {
            Some(link) => out.push(link),
            None => return out,
        }
    }
}

/// Two member indexes as one sort key, the smaller first.
fn key(x: u32, y: u32) -> u64 {
    (u64::from(x.min(y)) << 32) | u64::from(x.max(y))
}

impl Pairing<'_> {
    /// Both ids' indexes if both are eligible and in one city.
    fn same_city(&self, x: i64, y: i64) -> Option<(u32, u32)> {
        let (i, j) = (self.index.get(x)?, self.index.get(y)?);
        (i != j && self.city[i as usize] == self.city[j as usize]).then_some((i, j))
    }

    /// Sorted keys of the pairs in `list` that could be candidates at all.
    fn keys(&self, list: &[(i64, i64)]) -> Vec<u64> {
        let mut keys: Vec<u64> =
            list.iter().filter_map(|&(x, y)| self.same_city(x, y)).map(|(i, j)| key(i, j)).collect();
        keys.sort_unstable();
        keys
    }

    /// One entry per follow that could make a pair: the pair's key, whether it goes from the
    /// smaller index to the larger, and when it was made; sorted by key. Ten million follows at
    /// a million members: each core sorts a share, and the shares are merged.
    fn links(&self) -> Vec<Link> {
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        let share = self.follows.len().div_ceil(workers).max(1);
        let mut runs: Vec<Vec<Link>> = std::thread::scope(|scope| {
            let parts: Vec<_> = self
                .follows
                .chunks(share)
                .map(|chunk| {
                    scope.spawn(move || {
                        let mut links: Vec<Link> = chunk
                            .iter()
                            .filter_map(|f| {
                                let (i, j) = self.same_city(f.follower_id, f.followee_id)?;
                                Some((key(i, j), i < j, f.created_at))
                            })
                            .collect();
                        links.sort_unstable_by_key(|l| l.0);
                        links
                    })
                })
                .collect();
            parts.into_iter().map(|part| part.join().expect("sorting links does not panic")).collect()
        });
        while runs.len() > 1 {
            let (left, right) = (runs.remove(0), runs.remove(0));
            runs.push(merge(left, right));
        }
        runs.pop().unwrap_or_default()
    }

    /// The candidate pairs, in `(a, b)` order (indexes follow ids, so also in id order).
    pub fn pairs(self) -> Vec<Pair> {
        let links = self.links();
        let ruled_out = self.keys(&self.ruled_out);
        let declined = self.keys(&self.declined);
        let (mut r, mut d) = (0, 0);
        let mut pairs = Vec::new();
        for group in links.chunk_by(|x, y| x.0 == y.0) {
            let k = group[0].0;
            let (a, b) = ((k >> 32) as u32, k as u32);
            let a_follows_b = group.iter().any(|l| l.1);
            let b_follows_a = group.iter().any(|l| !l.1);
            if !(self.takes_anyone[a as usize] || a_follows_b) || !(self.takes_anyone[b as usize] || b_follows_a) {
                continue;
            }
            // Both lists are sorted as the groups are: walk them alongside.
            while ruled_out.get(r).is_some_and(|&x| x < k) {
                r += 1;
            }
            if ruled_out.get(r) == Some(&k) {
                continue;
            }
            while declined.get(d).is_some_and(|&x| x < k) {
                d += 1;
            }
            let mut declines = 0;
            while declined.get(d) == Some(&k) {
                declines += 1;
                d += 1;
            }
            let connected_since = group.iter().map(|l| l.2).min().expect("a group is never empty");
            pairs.push(Pair { a, b, a_follows_b, b_follows_a, connected_since, declines });
        }
        pairs
    }
}

/// What the pure phases need to know about one member of the round.
#[derive(Clone, Debug)]
pub struct Person {
    pub id: i64,
    pub display_name: String,
    pub time_zone: String,
    pub interests: Vec<String>,
    pub windows: Vec<Window>,
    /// Starts of coffees they already have in the horizon.
    pub busy: Vec<DateTime<Utc>>,
    pub joined_at: DateTime<Utc>,
    /// The latest round that suggested them a coffee. In a round's data ([`RoundData`]) it is
    /// exact where it changes the member's score: when it is one of the newest
    /// `score::MAX_ROUNDS_COUNTED` rounds, or the member joined after the oldest of those began.
    /// For everyone else it is `None`: they have waited at least as many rounds as a score
    /// counts either way, and reading it for a million members would cost two index probes each.
    pub last_round: Option<i64>,
}

/// The people in `ids`, with their availability and the coffees they already have after
/// `now`, by id.
pub async fn load_people(
    conn: &mut PgConnection,
    ids: &[i64],
    now: DateTime<Utc>,
) -> sqlx::Result<HashMap<i64, Person>> {
    let rows = sqlx::query!(
        "select m.id, m.display_name, m.time_zone, m.interests, m.created_at,
                greatest((select max(s.round_id) from suggestions s where s.a_id = m.id),
                         (select max(s.round_id) from suggestions s where s.b_id = m.id)) as last_round
         from members m
         where m.id = any($1)",
        ids
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut people: HashMap<i64, Person> = rows
        .into_iter()
        .map(|r| {
            let person = Person {
                id: r.id,
                display_name: r.display_name,
                time_zone: r.time_zone,
                interests: r.interests,
                windows: Vec::new(),
                busy: Vec::new(),
                joined_at: r.created_at,
                last_round: r.last_round,
            };
            (r.id, person)
        })
        .collect();
    let windows = sqlx::query!(
        "select member_id, weekday, start_minute, end_minute from availability where member_id = any($1)",
        ids
    )
    .fetch_all(&mut *conn)
    .await?;
    for w in windows {
        if let Some(person) = people.get_mut(&w.member_id) {
            person.windows.push(Window { weekday: w.weekday, start_minute: w.start_minute, end_minute: w.end_minute });
        }
    }
    // Agreed coffees, and suggestions of earlier rounds still waiting for an answer.
    let busy = sqlx::query!(
        // One branch per side, each filtered by the ids, so a page asking for a few people
        // reads a few index entries rather than every open suggestion.
        r#"select inviter_id as "party!", accepted_time as "starts_at!"
           from invitations where state = 'accepted' and accepted_time > $2 and inviter_id = any($1)
           union all
           select invitee_id, accepted_time
           from invitations where state = 'accepted' and accepted_time > $2 and invitee_id = any($1)
           union all
           select a_id, starts_at from suggestions where state = 'open' and starts_at > $2 and a_id = any($1)
           union all
           select b_id, starts_at from suggestions where state = 'open' and starts_at > $2 and b_id = any($1)"#,
        ids,
        now
    )
    .fetch_all(conn)
    .await?;
    for b in busy {
        if let Some(person) = people.get_mut(&b.party) {
            person.busy.push(b.starts_at);
        }
    }
    Ok(people)
}

/// Up to `limit` of the people one member could be paired with now: [`Pairing`] for one
/// member, in SQL through the follow indexes, for the page that explains a missing suggestion,
/// where reading the whole graph would take seconds. Keep the two sets of conditions the same.
pub async fn list_partners_of(
    db: impl PgExecutor<'_>,
    member: i64,
    period: NaiveDate,
    cool_down_weeks: i32,
    declined_after: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Vec<i64>> {
    sqlx::query_scalar!(
        r#"with linked as (
               select followee_id as other, true as i_follow from follows where follower_id = $1
               union all
               select follower_id, false from follows where followee_id = $1
           ),
           links as (
               select other, bool_or(i_follow) as i_follow, bool_or(not i_follow) as follows_me
               from linked
               group by other
           )
           select e.id as "id!"
           from links l
           join scheduler_eligible e on e.id = l.other
           join scheduler_eligible me on me.id = $1 and me.city = e.city
           where (me.invite_policy = 'anyone' or l.i_follow)
             and (e.invite_policy = 'anyone' or l.follows_me)
             and not exists (select from met_pairs m where m.a_id = least($1, e.id) and m.b_id = greatest($1, e.id))
             and not exists (select from blocks k where k.blocker_id = $1 and k.blocked_id = e.id)
             and not exists (select from blocks k where k.blocker_id = e.id and k.blocked_id = $1)
             and not exists (
                 select from invitations i
                 where least(i.inviter_id, i.invitee_id) = least($1, e.id)
                   and greatest(i.inviter_id, i.invitee_id) = greatest($1, e.id)
                   and i.state in ('pending', 'countered', 'accepted'))
             and not exists (
                 select from suggestions s join scheduler_rounds r on r.id = s.round_id
                 where s.a_id = least($1, e.id) and s.b_id = greatest($1, e.id)
                   and (r.period > $2::date - 7 * $3::int
                        or (s.state = 'declined' and s.answered_at > $4)))
           order by e.id
           limit $5"#,
        member,
        period,
        cool_down_weeks,
        declined_after,
        limit
    )
    .fetch_all(db)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_find_their_index_whether_dense_or_sparse() {
        for ids in [vec![3, 4, 6, 9], vec![-5, 1 << 40, i64::MAX], vec![]] {
            let index = IdIndex::new(&ids);
            for (i, &id) in ids.iter().enumerate() {
                assert_eq!(index.get(id), Some(i as u32));
            }
            for absent in [5, 0, -6, i64::MIN, 1 << 41] {
                assert_eq!(index.get(absent), None, "{absent} in {ids:?}");
            }
        }
    }

    #[test]
    fn merging_keeps_the_key_order() {
        let at = DateTime::<Utc>::MIN_UTC;
        let run = |keys: &[u64]| keys.iter().map(|&k| (k, true, at)).collect::<Vec<Link>>();
        let merged = merge(run(&[1, 4, 4, 9]), run(&[0, 4, 5, 10, 11]));
        assert_eq!(merged.iter().map(|l| l.0).collect::<Vec<_>>(), [0, 1, 4, 4, 4, 5, 9, 10, 11]);
        assert!(merge(run(&[]), run(&[])).is_empty());
    }

    #[test]
    fn pairs_come_from_follows_between_eligible_members_of_one_city() {
        let day = |d: i64| DateTime::<Utc>::UNIX_EPOCH + chrono::TimeDelta::days(d);
        // Members 10..=16 are eligible; 17 is not (suspended, say). 16 lives elsewhere; 13 takes
        // invitations only from people it follows.
        let ids = [10, 11, 12, 13, 14, 15, 16];
        let index = IdIndex::new(&ids);
        let city = [0, 0, 0, 0, 0, 0, 1];
        let takes_anyone = [true, true, true, false, true, true, true];
        let follow = |follower_id, followee_id, d| Follow { follower_id, followee_id, created_at: day(d) };
        let pairing = Pairing {
            index: &index,
            city: &city,
            takes_anyone: &takes_anyone,
            follows: vec![
                follow(11, 10, 5),
                follow(10, 11, 9), // back: one mutual pair, connected since day 5
                follow(10, 12, 1), // a pair with two earlier declines
                follow(14, 13, 2), // 13 does not follow 14, and takes invitations only from those it does
                follow(13, 15, 3), // 13 follows 15: fine
                follow(10, 16, 4), // another city
                follow(10, 17, 4), // not eligible
                follow(12, 14, 6), // ruled out (met, say), given the other way round
                follow(11, 12, 7),
            ],
            ruled_out: vec![(14, 12), (99, 100)],
            declined: vec![(12, 10), (10, 12), (11, 15)],
        };
        let pair = |a, b, ab, ba, d, declines| Pair {
            a,
            b,
            a_follows_b: ab,
            b_follows_a: ba,
            connected_since: day(d),
            declines,
        };
        assert_eq!(
            pairing.pairs(),
            vec![
                pair(0, 1, true, true, 5, 0),
                pair(0, 2, true, false, 1, 2),
                pair(1, 2, true, false, 7, 0),
                pair(3, 5, true, false, 3, 0)
            ]
        );
    }
}
