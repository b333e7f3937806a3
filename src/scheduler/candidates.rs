//! Who could be suggested to whom this round: the SQL side of the scheduler. One statement
//! finds the candidate pairs; two more load what the pure phases need about the members in
//! them (zone, interests, availability). Pairs without a common hour or a venue are dropped
//! later, in `round`, because those need the slots and the venues.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgExecutor};

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

/// The pairs joined by a follow in either direction where:
/// - both are eligible (active, opted in to matching, with a city) and in the same city (case aside);
/// - each would take an invitation from the other under their own "who may invite me"
///   setting (accepting a suggestion sends one, from either side);
/// - they have not met, neither blocks the other, and no invitation is open between them;
/// - they were not suggested to each other in a round of the last `cool_down_weeks` weeks
///   before `period`, nor did one of them decline a suggestion of the other since `declined_after`.
///
/// Who is eligible is the `scheduler_eligible` view: it asks for `status = 'active'`, so
/// suspended members and those an admin has hidden are never candidates.
pub async fn list_candidates(
    db: impl PgExecutor<'_>,
    period: NaiveDate,
    cool_down_weeks: i32,
    declined_after: DateTime<Utc>,
) -> sqlx::Result<Vec<Candidate>> {
    sqlx::query_as!(
        Candidate,
        r#"with links as (
               select least(follower_id, followee_id) as a,
                      greatest(follower_id, followee_id) as b,
                      bool_or(follower_id < followee_id) as a_follows_b,
                      bool_or(follower_id > followee_id) as b_follows_a,
                      min(created_at) as connected_since
               from follows
               group by 1, 2
           ),
           declined as (
               select a, b, count(*) as declines
               from (select a_id as a, b_id as b from suggestions where state = 'declined'
                     union all
                     select least(inviter_id, invitee_id), greatest(inviter_id, invitee_id)
                     from invitations where state = 'declined') as no
               group by 1, 2
           )
           select l.a as "a!", l.b as "b!", ea.city as "city!", l.a_follows_b as "a_follows_b!", l.b_follows_a as "b_follows_a!",
                  l.connected_since as "connected_since!", coalesce(d.declines, 0) as "declines!"
           from links l
           join scheduler_eligible ea on ea.id = l.a
           join scheduler_eligible eb on eb.id = l.b and eb.city = ea.city
           left join declined d on d.a = l.a and d.b = l.b
           where (ea.invite_policy = 'anyone' or l.a_follows_b)
             and (eb.invite_policy = 'anyone' or l.b_follows_a)
             and not exists (select from met_pairs m where m.a_id = l.a and m.b_id = l.b)
             and not exists (select from blocks k where k.blocker_id = l.a and k.blocked_id = l.b)
             and not exists (select from blocks k where k.blocker_id = l.b and k.blocked_id = l.a)
             and not exists (
                 select from invitations i
                 where least(i.inviter_id, i.invitee_id) = l.a and greatest(i.inviter_id, i.invitee_id) = l.b
                   and i.state in ('pending', 'countered', 'accepted'))
             and not exists (
                 select from suggestions s join scheduler_rounds r on r.id = s.round_id
                 where s.a_id = l.a and s.b_id = l.b
                   and (r.period > $1::date - 7 * $2::int
                        or (s.state = 'declined' and s.answered_at > $3)))
           order by l.a, l.b"#,
        period,
        cool_down_weeks,
        declined_after
    )
    .fetch_all(db)
    .await
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
    /// The latest round that suggested them a coffee.
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

/// How many members the round considers (see the `scheduler_eligible` view).
pub async fn count_considered(db: impl PgExecutor<'_>) -> sqlx::Result<i64> {
    sqlx::query_scalar!(r#"select count(*) as "n!" from scheduler_eligible"#).fetch_one(db).await
}

/// Up to `limit` of the people one member could be paired with now: `list_candidates` for one
/// member, read through the follow indexes for the page that explains a missing suggestion,
/// where the whole graph's statement would take seconds. Keep the two sets of conditions the
/// same.
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
