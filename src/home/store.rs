//! The home page's read: everything on it but the coffees in one statement, each part
//! aggregated to JSON. The parts are home's own (the home page shows fewer columns than the
//! pages each part links to), so they are written here rather than composed from the other
//! domains' queries: a page in one round trip cannot call five store functions.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::PgExecutor;
use sqlx::types::Json;

/// How much of each part the home page reads.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Connections ranked for the "never met" list: the most recent ones, which is all of them
    /// for nearly everyone. Ranking reads every candidate's member row, so the cost follows
    /// this number (measured at 100,000 members: 95-137 ms for a member with 7,691
    /// connections ranked whole; 9 ms for their 300 most recent).
    pub never_met_pool: i64,
    /// People shown in the "never met" list.
    pub never_met_shown: i64,
    /// "We have met" claims read (the page shows one fewer, and says more wait).
    pub claims: i64,
    /// Missed meetups read (likewise).
    pub missed: i64,
    /// Suggestions are shown only when there is still time to answer them: starting after this.
    pub suggestions_after: DateTime<Utc>,
}

/// Someone the member is connected with online but has never met.
#[derive(Clone, Debug, Deserialize)]
pub struct NeverMet {
    pub id: i64,
    pub handle: String,
    pub display_name: String,
    pub city: String,
    pub mutual: bool,
    pub same_city: bool,
    pub shared_interests: Vec<String>,
    /// Their photo (only active members outside any block are listed).
    pub photo_id: Option<i64>,
    /// How many there are in all, before the limit.
    pub total: i64,
}

/// A "we have met" claim waiting for the member's answer.
#[derive(Clone, Debug, Deserialize)]
pub struct ClaimForMe {
    pub id: i64,
    pub claimant_id: i64,
    pub handle: String,
    pub display_name: String,
    /// Their photo (only active claimants outside any block are listed).
    pub photo_id: Option<i64>,
}

/// A coffee the scheduler suggested, still open, with time left to answer.
#[derive(Clone, Debug, Deserialize)]
pub struct OpenSuggestion {
    pub other_id: i64,
    pub other_handle: String,
    pub other_name: String,
    pub other_photo_id: Option<i64>,
    pub starts_at: DateTime<Utc>,
    pub venue_name: String,
}

/// A meetup to come that the member is going to or waiting for.
#[derive(Clone, Debug, Deserialize)]
pub struct MyMeetup {
    pub id: i64,
    pub title: String,
    pub starts_at: DateTime<Utc>,
    pub venue_name: String,
    pub venue_city: String,
    pub venue_zone: String,
    /// Going; otherwise on the waitlist at `position`.
    pub going: bool,
    pub position: i64,
}

/// A meetup the member said they would come to and was not checked in at.
#[derive(Clone, Debug, Deserialize)]
pub struct MissedMeetup {
    pub meetup_id: i64,
    pub title: String,
}

/// What the home page shows, but the coffees (`invitations::store::list_current`).
#[derive(Debug)]
pub struct Home {
    pub has_interests: bool,
    pub window_count: i64,
    /// How many connections were ranked: `never_met_pool` of them means there may be more.
    pub ranked: i64,
    pub never_met: Vec<NeverMet>,
    pub claims: Vec<ClaimForMe>,
    /// Active members followed, and how many of them met.
    pub following: i64,
    pub met: i64,
    pub suggestions: Vec<OpenSuggestion>,
    pub meetups: Vec<MyMeetup>,
    pub missed: Vec<MissedMeetup>,
}

/// The home page of `member`, in one statement.
///
/// Every list leaves out other members who are not active or are in a block with the member
/// (either way); meetups also leave out those whose organiser is. "Never met" ranks the most
/// promising first: mutual follows, then the same city, then most shared interests.
pub async fn load(db: impl PgExecutor<'_>, member: i64, limits: &Limits) -> sqlx::Result<Home> {
    let row = sqlx::query!(
        r#"with me as (
               select id, city, interests from members where id = $1
           ), recent as (
               -- The most recent connections, a follow either way; both sides are read
               -- newest first through their indexes, so a member with thousands costs the same.
               select id from (
                   (select followee_id as id, created_at from follows where follower_id = $1
                    order by created_at desc limit $2)
                   union all
                   (select follower_id, created_at from follows where followee_id = $1
                    order by created_at desc limit $2)
               ) as both_ways
               group by id order by max(created_at) desc, id limit $2
           ), ranked as (
               select m.handle, m.display_name, m.city, m.id, m.interests, m.photo_id,
                      exists (select from follows where follower_id = $1 and followee_id = m.id)
                          and exists (select from follows where follower_id = m.id and followee_id = $1) as mutual,
                      (m.city <> '' and m.city = me.city) as same_city,
                      (select count(*) from unnest(m.interests) as i where i = any (me.interests)) as shared,
                      count(*) over () as total
               from members m
               cross join me
               where m.id in (select id from recent)
                 and m.status = 'active'
                 and not exists (select from met_pairs p
                                 where p.a_id = least($1::bigint, m.id) and p.b_id = greatest($1::bigint, m.id))
                 and not exists (select from blocks b
                                 where (b.blocker_id = $1 and b.blocked_id = m.id)
                                    or (b.blocker_id = m.id and b.blocked_id = $1))
               order by mutual desc, same_city desc, shared desc, lower(m.display_name), m.id
               limit $3
           ), never_met as (
               -- The shared interests by name only for the rows shown: naming them for every
               -- candidate cost more than the rest of the query.
               select r.id, r.handle, r.display_name, r.city, r.mutual, r.same_city,
                      array(select unnest(r.interests) intersect select unnest(me.interests) order by 1)
                          as shared_interests,
                      r.photo_id, r.total, r.shared
               from ranked r
               cross join me
           ), claims as (
               select c.id, c.claimant_id, m.handle, m.display_name, m.photo_id, c.created_at
               from met_claims c
               join members m on m.id = c.claimant_id
               where c.other_id = $1 and c.status = 'pending' and m.status = 'active'
                 and not exists (select from blocks b
                                 where (b.blocker_id = $1 and b.blocked_id = m.id)
                                    or (b.blocker_id = m.id and b.blocked_id = $1))
               order by c.created_at, c.id
               limit $4
           ), suggested as (
               select s.id, s.round_id, o.id as other_id, o.handle as other_handle, o.display_name as other_name,
                      o.photo_id as other_photo_id, s.starts_at, v.name as venue_name
               from suggestions s
               join members o on o.id = case when s.a_id = $1 then s.b_id else s.a_id end
               join venues v on v.id = s.venue_id
               where (s.a_id = $1 or s.b_id = $1) and s.state = 'open' and s.starts_at > $6
                 and o.status = 'active'
                 and not exists (select from blocks k where (k.blocker_id = $1 and k.blocked_id = o.id)
                                                        or (k.blocker_id = o.id and k.blocked_id = $1))
           ), my_meetups as (
               select m.id, m.title, m.starts_at, v.name as venue_name, v.city as venue_city,
                      v.time_zone as venue_zone, r.status = 'going' as going,
                      case when r.status = 'waitlisted'
                           then (select count(*) from rsvps w
                                 where w.meetup_id = m.id and w.status = 'waitlisted' and w.arrival <= r.arrival)
                           else 0 end as position
               from rsvps r
               join meetups m on m.id = r.meetup_id
               join members o on o.id = m.organiser_id
               join venues v on v.id = m.venue_id
               where r.member_id = $1 and r.status <> 'cancelled'
                 and m.cancelled_at is null and m.ends_at > now() and o.status = 'active'
                 and not exists (select from blocks b
                                 where (b.blocker_id = $1 and b.blocked_id = m.organiser_id)
                                    or (b.blocker_id = m.organiser_id and b.blocked_id = $1))
               order by m.starts_at, m.id
               limit 50
           ), missed as (
               -- A no-show as the admins' list counts one: going, not checked in, at a meetup
               -- whose organiser checked someone in (one who did not has no record of who came).
               select m.id as meetup_id, m.title, m.starts_at
               from rsvps r
               join meetups m on m.id = r.meetup_id
               where r.member_id = $1 and r.status = 'going' and r.checked_in_at is null
                 and m.cancelled_at is null and m.starts_at < now() - interval '1 day'
                 and exists (select from rsvps c where c.meetup_id = m.id and c.checked_in_at is not null)
               order by m.starts_at desc, m.id desc
               limit $5
           )
           select me.interests <> '{}' as "has_interests!",
                  (select count(*) from availability a where a.member_id = $1) as "window_count!",
                  (select count(*) from recent) as "ranked!",
                  (select coalesce(json_agg(n order by n.mutual desc, n.same_city desc, n.shared desc,
                                            lower(n.display_name), n.id), '[]')
                   from never_met n) as "never_met!: Json<Vec<NeverMet>>",
                  (select coalesce(json_agg(c order by c.created_at, c.id), '[]') from claims c)
                      as "claims!: Json<Vec<ClaimForMe>>",
                  figures.following as "following!", figures.met as "met!",
                  (select coalesce(json_agg(s order by s.round_id desc, s.id desc), '[]') from suggested s)
                      as "suggestions!: Json<Vec<OpenSuggestion>>",
                  (select coalesce(json_agg(g order by g.starts_at, g.id), '[]') from my_meetups g)
                      as "meetups!: Json<Vec<MyMeetup>>",
                  (select coalesce(json_agg(x order by x.starts_at desc, x.meetup_id desc), '[]') from missed x)
                      as "missed!: Json<Vec<MissedMeetup>>"
           from me
           -- Active members followed (suspended and hidden ones left out through the small
           -- partial index `members_inactive`), and how many of them met, in one scan.
           cross join lateral (
               select count(*) as following,
                      count(*) filter (where exists (
                          select from met_pairs p
                          where p.a_id = least($1::bigint, f.followee_id) and p.b_id = greatest($1::bigint, f.followee_id)
                      )) as met
               from follows f
               where f.follower_id = $1
                 and not exists (select from members s where s.id = f.followee_id and s.status <> 'active')
           ) as figures"#,
        member,
        limits.never_met_pool,
        limits.never_met_shown,
        limits.claims,
        limits.missed,
        limits.suggestions_after,
    )
    .fetch_one(db)
    .await?;
    Ok(Home {
        has_interests: row.has_interests,
        window_count: row.window_count,
        ranked: row.ranked,
        never_met: row.never_met.0,
        claims: row.claims.0,
        following: row.following,
        met: row.met,
        suggestions: row.suggestions.0,
        meetups: row.meetups.0,
        missed: row.missed.0,
    })
}
