//! All SQL for `scheduler_rounds` and `suggestions`, and the look-ups a round makes of venues
//! and held coffees. The candidate query is in `candidates`.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgExecutor};

use super::score::{Follow, reasons};
use crate::members::model::InvitePolicy;
use crate::web::bidi::isolate;

/// Begins a round on a fresh transaction: one snapshot for all its reads (repeatable read), so
/// its figures and its pairs describe the same moment; then the round lock for the rest of the
/// transaction, if no one else holds it.
///
/// A round's statements read the whole follow graph at once, so it also gives their sorts and
/// hashes memory to work in rather than spill to disk, and skips JIT compilation, which on
/// this workload costs more than it saves (measured on a 100,000-member seed: the candidate
/// statement took 7.4 s with the defaults, 5.4 s with these). Both last until the transaction
/// ends.
pub async fn start_round(conn: &mut PgConnection, lock: &str) -> sqlx::Result<bool> {
    sqlx::query!("set transaction isolation level repeatable read").execute(&mut *conn).await?;
    let taken = sqlx::query_scalar!(r#"select pg_try_advisory_xact_lock(hashtextextended($1, 0)) as "taken!""#, lock)
        .fetch_one(&mut *conn)
        .await?;
    if taken {
        sqlx::query!("select set_config('work_mem', '256MB', true) as work_mem, set_config('jit', 'off', true) as jit")
            .fetch_one(conn)
            .await?;
    }
    Ok(taken)
}

/// The round transaction's snapshot, for a helper connection to read the same moment.
pub async fn export_snapshot(conn: &mut PgConnection) -> sqlx::Result<String> {
    sqlx::query_scalar!(r#"select pg_export_snapshot() as "snapshot!""#).fetch_one(conn).await
}

/// Makes the transaction just begun on `conn` see `snapshot` (from [`export_snapshot`], whose
/// transaction must still be open): repeatable read and read only, without JIT as a round.
pub async fn import_snapshot(conn: &mut PgConnection, snapshot: &str) -> sqlx::Result<()> {
    // `set transaction snapshot` takes a literal, not a parameter. The id is PostgreSQL's own
    // (hex digits and dashes); anything else is refused rather than put into a statement.
    if snapshot.is_empty() || !snapshot.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
        return Err(sqlx::Error::Protocol(format!("unexpected snapshot id {snapshot:?}")));
    }
    let statement =
        format!("set transaction isolation level repeatable read, read only; set transaction snapshot '{snapshot}'");
    // The executor's own method (its future boxed and `Send`): `raw_sql(..).execute(..)` is an
    // `async fn` generic over the executor, and a round spawns this onto another task.
    sqlx::Executor::execute(&mut *conn, statement.as_str()).await?;
    sqlx::query!("select set_config('jit', 'off', true) as jit").fetch_one(conn).await?;
    Ok(())
}

pub async fn round_exists(db: impl PgExecutor<'_>, period: NaiveDate) -> sqlx::Result<bool> {
    sqlx::query_scalar!(r#"select exists (select from scheduler_rounds where period = $1) as "done!""#, period)
        .fetch_one(db)
        .await
}

/// Every round's id and start, oldest first (a few dozen a year).
pub async fn list_round_starts(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<(i64, DateTime<Utc>)>> {
    let rows = sqlx::query!("select id, started_at from scheduler_rounds order by id").fetch_all(db).await?;
    Ok(rows.into_iter().map(|r| (r.id, r.started_at)).collect())
}

/// An approved place as a round needs it.
pub struct Place {
    pub id: i64,
    /// Lower-cased, as candidates carry it.
    pub city: String,
    pub name: String,
}

pub async fn list_approved_venues(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<Place>> {
    sqlx::query_as!(
        Place,
        r#"select id, lower(city) as "city!", name from venues where status = 'approved' order by id"#
    )
    .fetch_all(db)
    .await
}

/// (member, venue) for every held coffee at which one of the two said they met.
pub async fn list_met_venues(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<(i64, i64)>> {
    let rows = sqlx::query!(
        r#"select unnest(array[inviter_id, invitee_id]) as "member!", venue_id
           from invitations
           where state = 'held' and 'met' in (inviter_answer, invitee_answer)"#
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.member, r.venue_id)).collect())
}

/// A round's figures, as `cuppa schedule` prints them and the admin page lists them.
#[derive(Clone, Debug)]
pub struct RoundFigures {
    pub period: NaiveDate,
    pub started_at: DateTime<Utc>,
    pub members_considered: i64,
    pub members_matchable: i64,
    pub candidate_pairs: i64,
    pub pairs_made: i64,
    pub total_weight: i64,
    pub load_ms: i64,
    pub score_ms: i64,
    pub match_ms: i64,
    pub write_ms: i64,
}

impl RoundFigures {
    /// The share of matchable members who were suggested a coffee, in percent.
    pub fn suggested_percent(&self) -> f64 {
        if self.members_matchable == 0 {
            return 0.0;
        }
        200.0 * self.pairs_made as f64 / self.members_matchable as f64
    }

    pub fn total_ms(&self) -> i64 {
        self.load_ms + self.score_ms + self.match_ms + self.write_ms
    }
}

pub async fn insert_round(
    conn: &mut PgConnection,
    figures: &RoundFigures,
    started_by: Option<i64>,
) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "insert into scheduler_rounds (period, started_at, started_by, members_considered, members_matchable,
                                       candidate_pairs, pairs_made, total_weight, load_ms, score_ms, match_ms, write_ms)
         values ($1, $2, $3, $4::bigint::int, $5::bigint::int, $6::bigint::int, $7::bigint::int, $8,
                 $9::bigint::int, $10::bigint::int, $11::bigint::int, $12::bigint::int)
         returning id",
        figures.period,
        figures.started_at,
        started_by,
        figures.members_considered,
        figures.members_matchable,
        figures.candidate_pairs,
        figures.pairs_made,
        figures.total_weight,
        figures.load_ms,
        figures.score_ms,
        figures.match_ms,
        figures.write_ms
    )
    .fetch_one(conn)
    .await
}

/// The time the writing took, and the end, are known only once it is done.
pub async fn update_write_time(db: impl PgExecutor<'_>, round: i64, write_ms: i64) -> sqlx::Result<()> {
    sqlx::query!(
        "update scheduler_rounds set write_ms = $2::bigint::int, finished_at = clock_timestamp() where id = $1",
        round,
        write_ms
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The past rounds, newest first.
pub async fn list_rounds(db: impl PgExecutor<'_>, limit: i64) -> sqlx::Result<Vec<RoundFigures>> {
    sqlx::query_as!(
        RoundFigures,
        r#"select period, started_at, members_considered::bigint as "members_considered!",
                  members_matchable::bigint as "members_matchable!", candidate_pairs::bigint as "candidate_pairs!",
                  pairs_made::bigint as "pairs_made!", total_weight, load_ms::bigint as "load_ms!",
                  score_ms::bigint as "score_ms!", match_ms::bigint as "match_ms!", write_ms::bigint as "write_ms!"
           from scheduler_rounds
           order by period desc
           limit $1"#,
        limit
    )
    .fetch_all(db)
    .await
}

/// A suggestion as a round writes it.
pub struct NewSuggestion {
    pub a: i64,
    pub b: i64,
    pub venue: i64,
    pub starts_at: DateTime<Utc>,
    pub weight: i64,
    pub a_follows_b: bool,
    pub b_follows_a: bool,
    pub shared_interests: Vec<String>,
}

/// Takes the key-share lock on the rows of `members` (ids sorted) that the round's writes point
/// at, in id order, in one statement. Every foreign key check of the suggestions and their
/// notices takes this lock anyway (it only keeps the rows from being deleted or their ids
/// changed until the round commits); taken here first, in order, the checks find it held and
/// change nothing, instead of each first one rewriting a row's page in the order of the
/// inserts, which for the second member of a pair is random. The writing took 15 to 20% less
/// time at 100,000 members (2.0-2.35 s against 2.3-2.7 s, three runs each).
pub async fn lock_members(conn: &mut PgConnection, ids: &[i64]) -> sqlx::Result<()> {
    sqlx::query!(
        r#"select count(*) as "locked!"
           from (select from members where id = any($1) order by id for key share) as locked"#,
        ids
    )
    .fetch_one(conn)
    .await?;
    Ok(())
}

/// Writes a round's suggestions in one statement (tens of thousands at a time).
pub async fn insert_suggestions(conn: &mut PgConnection, round: i64, all: &[NewSuggestion]) -> sqlx::Result<()> {
    let column = |f: fn(&NewSuggestion) -> i64| all.iter().map(f).collect::<Vec<i64>>();
    let (a, b, venue, weight) = (column(|s| s.a), column(|s| s.b), column(|s| s.venue), column(|s| s.weight));
    let starts_at: Vec<DateTime<Utc>> = all.iter().map(|s| s.starts_at).collect();
    let a_follows_b: Vec<bool> = all.iter().map(|s| s.a_follows_b).collect();
    let b_follows_a: Vec<bool> = all.iter().map(|s| s.b_follows_a).collect();
    // Postgres has no ragged arrays: the interests travel joined, split again on the way in.
    let shared: Vec<String> = all.iter().map(|s| s.shared_interests.join("\u{1f}")).collect();
    sqlx::query!(
        r#"insert into suggestions (round_id, a_id, b_id, venue_id, starts_at, weight, a_follows_b, b_follows_a, shared_interests)
           select $1, a, b, venue, starts_at, weight::int, a_follows_b, b_follows_a,
                  case when shared = '' then '{}' else string_to_array(shared, chr(31)) end
           from unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::timestamptz[], $6::bigint[], $7::bool[], $8::bool[], $9::text[])
                as s(a, b, venue, starts_at, weight, a_follows_b, b_follows_a, shared)"#,
        round,
        &a,
        &b,
        &venue,
        &starts_at,
        &weight,
        &a_follows_b,
        &b_follows_a,
        &shared
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// A suggestion as one of its two members sees it.
#[derive(Clone, Debug)]
pub struct Suggestion {
    pub id: i64,
    pub other_id: i64,
    pub other_handle: String,
    pub other_name: String,
    /// Their photo (the query lists only active members, outside any block).
    pub other_photo_id: Option<i64>,
    pub i_follow: bool,
    pub follows_me: bool,
    pub shared_interests: Vec<String>,
    pub starts_at: DateTime<Utc>,
    pub venue_id: i64,
    pub venue_name: String,
    pub venue_address: String,
    pub state: SuggestionState,
    pub answered_by: Option<i64>,
    pub invitation_id: Option<i64>,
}

impl Suggestion {
    /// Why Cuppa suggested them, in the viewer's words: "you follow each other and ...". The
    /// interests are marked with `isolate`, for the page to show each in a `<bdi>`.
    pub fn why(&self) -> String {
        let shared: Vec<String> = self.shared_interests.iter().map(|interest| isolate(interest)).collect();
        Follow::seen_by_viewer(self.i_follow, self.follows_me)
            .map(|follow| reasons(follow, &shared))
            .unwrap_or_default()
    }
}

#[derive(sqlx::Type, Clone, Copy, Debug, PartialEq, Eq)]
#[sqlx(type_name = "suggestion_state", rename_all = "lowercase")]
pub enum SuggestionState {
    Open,
    Accepted,
    Declined,
    /// Taken back because one of the two was suspended.
    Withdrawn,
}

/// The member's suggestions whose hour is still ahead, newest round first; the other member's
/// name is left out when either now blocks the other (the caller drops those).
macro_rules! select_suggestions {
    ($tail:literal, $($arg:expr),*) => {
        sqlx::query_as!(
            Suggestion,
            r#"select s.id,
                      o.id as "other_id!", o.handle as "other_handle!", o.display_name as "other_name!",
                      o.photo_id as other_photo_id,
                      case when s.a_id = $1 then s.a_follows_b else s.b_follows_a end as "i_follow!",
                      case when s.a_id = $1 then s.b_follows_a else s.a_follows_b end as "follows_me!",
                      s.shared_interests, s.starts_at, s.venue_id, v.name as venue_name, v.address as venue_address,
                      s.state as "state: SuggestionState", s.answered_by, s.invitation_id
               from suggestions s
               join members o on o.id = case when s.a_id = $1 then s.b_id else s.a_id end
               join venues v on v.id = s.venue_id
               where (s.a_id = $1 or s.b_id = $1)
                 and o.status = 'active'
                 and not exists (select from blocks k where (k.blocker_id = $1 and k.blocked_id = o.id)
                                                        or (k.blocker_id = o.id and k.blocked_id = $1))
               "# + $tail,
            $($arg),*
        )
    };
}

/// The member's suggestions whose hour is after `after`, newest first.
pub async fn list_upcoming_suggestions(
    db: impl PgExecutor<'_>,
    member: i64,
    after: DateTime<Utc>,
) -> sqlx::Result<Vec<Suggestion>> {
    select_suggestions!("and s.starts_at > $2 order by s.round_id desc, s.id desc", member, after).fetch_all(db).await
}

/// One of the member's suggestions, locked for an answer; None when it is not theirs.
pub async fn lock_suggestion(conn: &mut PgConnection, member: i64, id: i64) -> sqlx::Result<Option<Suggestion>> {
    select_suggestions!("and s.id = $2 for update of s", member, id).fetch_optional(conn).await
}

pub async fn answer_suggestion(
    conn: &mut PgConnection,
    id: i64,
    member: i64,
    state: SuggestionState,
    invitation: Option<i64>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "update suggestions
         set state = $3, answered_by = $2, answered_at = now(), invitation_id = $4
         where id = $1",
        id,
        member,
        state as SuggestionState,
        invitation
    )
    .execute(conn)
    .await?;
    Ok(())
}

/// An open suggestion taken back from a suspended member, as the other side is told of it.
pub struct Withdrawn {
    pub member_id: i64,
    pub other_id: i64,
    pub other_zone: String,
    pub member_name: String,
    pub venue_name: String,
    pub starts_at: DateTime<Utc>,
}

/// Withdraws every open suggestion of `member` (being suspended); gives each for the other
/// side's notice. Withdrawn is not declined: it counts against neither in later rounds.
pub async fn withdraw_open_of(conn: &mut PgConnection, member: i64) -> sqlx::Result<Vec<Withdrawn>> {
    sqlx::query_as!(
        Withdrawn,
        r#"with taken as (
               update suggestions set state = 'withdrawn', answered_by = $1, answered_at = now()
               where state = 'open' and (a_id = $1 or b_id = $1)
               returning case when a_id = $1 then b_id else a_id end as other_id, venue_id, starts_at
           )
           select m.id as member_id, t.other_id as "other_id!", o.time_zone as other_zone, m.display_name as member_name,
                  v.name as venue_name, t.starts_at
           from taken t
           join members o on o.id = t.other_id
           join members m on m.id = $1
           join venues v on v.id = t.venue_id
           order by t.other_id"#,
        member
    )
    .fetch_all(conn)
    .await
}

/// What the suggestions page says of a member besides their suggestions: whether they take
/// part and whom they take invitations from, and what counting the rounds they waited needs
/// (`round::rounds_waited_since`), in one statement.
pub struct Waiting {
    pub matching: bool,
    pub invite_policy: InvitePolicy,
    pub joined_at: DateTime<Utc>,
    pub last_round: Option<i64>,
    /// Every round's id and start, oldest first (one a week).
    pub rounds: Vec<(i64, DateTime<Utc>)>,
}

pub async fn get_waiting(db: impl PgExecutor<'_>, member: i64) -> sqlx::Result<Waiting> {
    let row = sqlx::query!(
        r#"select m.matching, m.invite_policy as "invite_policy: InvitePolicy", m.created_at,
                  greatest((select max(s.round_id) from suggestions s where s.a_id = m.id),
                           (select max(s.round_id) from suggestions s where s.b_id = m.id)) as last_round,
                  array(select r.id from scheduler_rounds r order by r.id) as "round_ids!",
                  array(select r.started_at from scheduler_rounds r order by r.id) as "round_starts!"
           from members m
           where m.id = $1"#,
        member
    )
    .fetch_one(db)
    .await?;
    Ok(Waiting {
        matching: row.matching,
        invite_policy: row.invite_policy,
        joined_at: row.created_at,
        last_round: row.last_round,
        rounds: row.round_ids.into_iter().zip(row.round_starts).collect(),
    })
}
