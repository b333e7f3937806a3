//! The scheduler: finds members who are connected online but have never met, and suggests each
//! a coffee with one of them, at a common free hour in a public place. `candidates` (SQL),
//! `slots`, `score` and `matching` (pure) and `round` (I/O) are its phases; this module holds
//! its pages: `/suggestions` for members, `/admin/scheduler` for admins. Writes
//! `scheduler_rounds` and `suggestions` (and, accepting, an invitation through `invitations`).

pub mod candidates;
pub mod matching;
pub mod round;
pub mod score;
pub mod slots;
pub mod store;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::Redirect;
use chrono::{DateTime, TimeDelta, Utc, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;
use tower_sessions::Session;

use crate::AppState;
use crate::auth::{Admin, CurrentMember};
use crate::error::{AppError, AppResult};
use crate::invitations::model::local_label;
use crate::members::model::{InvitePolicy, Member};
use crate::moderation::audit;
use crate::photos::model::Size;
use crate::venues::model::VenueStatus;
use crate::web::bidi::isolate;
use crate::web::routes::Routes;
use crate::web::{Flash, Layout};
use round::Outcome;
use store::{RoundFigures, Suggestion, SuggestionState};

/// How rounds run. The defaults suit a weekly rhythm; `cuppa serve` and `cuppa schedule` take
/// them from the command line or the environment (see `config`).
#[derive(Clone, Debug)]
pub struct Settings {
    /// The same two members are not suggested to each other again for this many weeks, nor
    /// after one of them declined.
    pub cool_down_weeks: i32,
    /// How far ahead a round looks for a common hour.
    pub horizon_days: i64,
    /// The least notice a suggested coffee gives.
    pub lead: TimeDelta,
    /// When the weekly round runs, in UTC.
    pub weekday: Weekday,
    pub hour: u32,
}

impl Settings {
    /// When rounds run, as the pages say it: "every Monday at 06:00 UTC".
    pub fn schedule_label(&self) -> String {
        let day = match self.weekday {
            Weekday::Mon => "Monday",
            Weekday::Tue => "Tuesday",
            Weekday::Wed => "Wednesday",
            Weekday::Thu => "Thursday",
            Weekday::Fri => "Friday",
            Weekday::Sat => "Saturday",
            Weekday::Sun => "Sunday",
        };
        format!("every {day} at {:02}:00 UTC", self.hour)
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings { cool_down_weeks: 4, horizon_days: slots::DAYS, lead: slots::LEAD, weekday: Weekday::Mon, hour: 6 }
    }
}

impl Settings {
    /// The operator's choices (`--cool-down-weeks`, `--horizon-days`, `--round-day`,
    /// `--round-hour`); the rest as default. Here rather than in config, which stays a leaf
    /// that knows no domain.
    pub fn from_config(config: &crate::config::Config) -> Settings {
        Settings {
            cool_down_weeks: config.cool_down_weeks,
            horizon_days: config.horizon_days,
            weekday: config.round_day,
            hour: config.round_hour,
            ..Settings::default()
        }
    }
}

/// The least notice an accepted suggestion gives the other member: closer than this, the
/// suggestion is no longer offered.
pub const MIN_NOTICE: TimeDelta = TimeDelta::hours(2);

/// How many rounds without a suggestion before the page explains why.
const EXPLAIN_AFTER_ROUNDS: i64 = 2;

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .get("/suggestions", show_suggestions)
        .post("/suggestions/pause", pause_matching)
        .post("/suggestions/resume", resume_matching)
        .post("/suggestions/{id}/accept", accept_suggestion)
        .post("/suggestions/{id}/decline", decline_suggestion)
        .get("/admin/scheduler", show_scheduler)
        .post("/admin/scheduler/run", run_round)
}

/// Why a member has no suggestion, and what they can change about it. `checked_all` is false
/// when the member has more partners than the page checks (`PARTNERS_CHECKED`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reason {
    NoCity,
    NoVenue { city: String },
    NoAvailability,
    TakesNoInvitations,
    NobodyNearby,
    NoCommonHour { people: usize, checked_all: bool },
    Waiting { people: usize, checked_all: bool },
}

/// The most partners the page that explains a missing suggestion checks for a common hour:
/// each costs a member's availability and busy hours read and converted, and a member may be
/// connected with thousands. The page says when it checked only these.
pub const PARTNERS_CHECKED: i64 = 200;

#[derive(Template, WebTemplate)]
#[template(path = "scheduler/suggestions.html")]
struct SuggestionsPage {
    layout: Layout,
    me: i64,
    zone: Tz,
    suggestions: Vec<Suggestion>,
    matching: bool,
    rounds_waited: i64,
    /// Why there is no suggestion, worked out only when the page explains it.
    reason: Option<Reason>,
    settings: Settings,
}

impl SuggestionsPage {
    fn partners_checked(&self) -> i64 {
        PARTNERS_CHECKED
    }

    fn when(&self, s: &Suggestion) -> String {
        local_label(s.starts_at, self.zone)
    }

    fn is_open(&self, s: &Suggestion) -> bool {
        s.state == SuggestionState::Open
    }

    fn is_accepted(&self, s: &Suggestion) -> bool {
        s.state == SuggestionState::Accepted
    }

    fn accepted_by_me(&self, s: &Suggestion) -> bool {
        s.answered_by == Some(self.me)
    }
}

/// Whether the page explains a missing suggestion: matching is on, none is standing (declined
/// ones do not count), and the member has waited a few rounds. (A paused member is told so
/// whatever else the page shows.)
fn explains(suggestions: &[Suggestion], matching: bool, rounds_waited: i64) -> bool {
    matching
        && suggestions.iter().all(|s| s.state == SuggestionState::Declined)
        && rounds_waited >= EXPLAIN_AFTER_ROUNDS
}

async fn show_suggestions(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    layout: Layout,
) -> AppResult<SuggestionsPage> {
    let now = Utc::now();
    // Three statements but for the rare explanation: the session, the suggestions and the
    // member's waiting, the last two side by side.
    let (suggestions, waiting) = tokio::try_join!(
        store::list_upcoming_suggestions(&state.pool, member.id, now + MIN_NOTICE),
        store::get_waiting(&state.pool, member.id),
    )?;
    let rounds_waited = i64::from(round::rounds_waited_since(waiting.joined_at, waiting.last_round, &waiting.rounds));
    let reason = if explains(&suggestions, waiting.matching, rounds_waited) {
        // The member as a round sees them, for the explanation's checks.
        let mut conn = state.pool.acquire().await?;
        let me = candidates::load_people(&mut conn, &[member.id], now)
            .await?
            .remove(&member.id)
            .ok_or(AppError::NotFound)?;
        Some(explain(&mut conn, &state.scheduler, &me, waiting.invite_policy, now).await?)
    } else {
        None
    };
    Ok(SuggestionsPage {
        layout,
        me: member.id,
        zone: member.time_zone.parse().unwrap_or(Tz::UTC),
        suggestions,
        matching: waiting.matching,
        rounds_waited,
        reason,
        settings: state.scheduler.clone(),
    })
}

/// The first thing that stands between the member and a suggestion, checked in the order a
/// member would fix them, with the same rules a round applies.
async fn explain(
    conn: &mut sqlx::PgConnection,
    settings: &Settings,
    me: &candidates::Person,
    policy: InvitePolicy,
    now: DateTime<Utc>,
) -> AppResult<Reason> {
    let profile = crate::members::store::get_profile(&mut *conn, me.id).await?;
    if profile.city.trim().is_empty() {
        return Ok(Reason::NoCity);
    }
    if policy == InvitePolicy::Nobody {
        return Ok(Reason::TakesNoInvitations);
    }
    // Only whether the city has a place at all.
    let venues =
        crate::venues::store::list_venues(&mut *conn, VenueStatus::Approved, Some(&profile.city), 1, 0).await?;
    if venues.is_empty() {
        return Ok(Reason::NoVenue { city: profile.city });
    }
    if me.windows.is_empty() {
        return Ok(Reason::NoAvailability);
    }
    let declined_after = now - TimeDelta::weeks(i64::from(settings.cool_down_weeks));
    let partners = candidates::list_partners_of(
        &mut *conn,
        me.id,
        round::period_of(now),
        settings.cool_down_weeks,
        declined_after,
        PARTNERS_CHECKED,
    )
    .await?;
    if partners.is_empty() {
        return Ok(Reason::NobodyNearby);
    }
    let people = candidates::load_people(conn, &partners, now).await?;
    let mut horizon = slots::Horizon::new(now, settings.lead, settings.horizon_days);
    let mine = round::free_time(&mut horizon, me);
    let theirs: Vec<_> = people.values().map(|p| round::free_time(&mut horizon, p)).collect();
    let common = theirs.iter().filter(|t| horizon.earliest_common(&mine, t).is_some()).count();
    let checked_all = (partners.len() as i64) < PARTNERS_CHECKED;
    Ok(if common == 0 {
        Reason::NoCommonHour { people: partners.len(), checked_all }
    } else {
        Reason::Waiting { people: common, checked_all }
    })
}

/// Withdraws a suspended member's open suggestions and tells each other side, naming no
/// reason, on the suspension's transaction. Gives how many.
pub async fn withdraw_member(conn: &mut sqlx::PgConnection, member: i64) -> sqlx::Result<usize> {
    let taken = store::withdraw_open_of(&mut *conn, member).await?;
    let notices: Vec<_> = taken.iter().map(|t| (t.other_id, round::withdrawn_notice(t))).collect();
    crate::notify::store::record_all(conn, &notices).await?;
    Ok(taken.len())
}

/// Loads one of the member's suggestions, locked, and checks it is still open.
async fn lock_open(conn: &mut sqlx::PgConnection, member: &Member, id: i64) -> AppResult<Suggestion> {
    let suggestion = store::lock_suggestion(conn, member.id, id).await?.ok_or(AppError::NotFound)?;
    match suggestion.state {
        SuggestionState::Open if suggestion.starts_at > Utc::now() + MIN_NOTICE => Ok(suggestion),
        SuggestionState::Open => {
            Err(AppError::Conflict("That suggested hour is too close now to invite anyone to it.".to_owned()))
        }
        SuggestionState::Accepted => Err(AppError::Conflict(format!(
            "This coffee with {} was already accepted: see your invitations.",
            isolate(&suggestion.other_name)
        ))),
        SuggestionState::Declined => Err(AppError::Conflict("This suggestion was already declined.".to_owned())),
        SuggestionState::Withdrawn => {
            Err(AppError::Conflict("This suggestion was withdrawn: the coffee will not take place.".to_owned()))
        }
    }
}

/// Accepting sends the invitation on the member's behalf, for the suggested hour and place;
/// the other member answers it as any invitation. The suggestion row is locked before the
/// invitation's graph locks, and only answers take it, so two answers queue rather than cross.
async fn accept_suggestion(
    State(state): State<AppState>,
    session: Session,
    CurrentMember(member): CurrentMember,
    Path(id): Path<i64>,
) -> AppResult<Redirect> {
    let mut tx = state.pool.begin().await?;
    let suggestion = lock_open(&mut tx, &member, id).await?;
    let other = crate::members::store::get_profile(&mut *tx, suggestion.other_id).await?;
    // The invitee reads it as the inviter's words, so it says nothing about who follows whom.
    let note = match score::listed(&suggestion.shared_interests) {
        Some(liked) => format!("Cuppa suggested we meet. We both like {liked}."),
        None => "Cuppa suggested we meet.".to_owned(),
    };
    let invitation =
        crate::invitations::send_in(&mut tx, member.id, &other, suggestion.venue_id, &[suggestion.starts_at], &note)
            .await?;
    store::answer_suggestion(&mut tx, id, member.id, SuggestionState::Accepted, Some(invitation)).await?;
    tx.commit().await?;
    Flash::success(format!("Invitation sent to {}. You will be told when they answer.", isolate(&other.display_name)))
        .push(&session)
        .await?;
    Ok(Redirect::to(&format!("/invitations/{invitation}")))
}

async fn decline_suggestion(
    State(state): State<AppState>,
    session: Session,
    CurrentMember(member): CurrentMember,
    Path(id): Path<i64>,
) -> AppResult<Redirect> {
    let mut tx = state.pool.begin().await?;
    let suggestion = lock_open(&mut tx, &member, id).await?;
    store::answer_suggestion(&mut tx, id, member.id, SuggestionState::Declined, None).await?;
    tx.commit().await?;
    Flash::info(format!(
        "Declined. Cuppa will not suggest you and {} to each other for {} weeks.",
        isolate(&suggestion.other_name),
        state.scheduler.cool_down_weeks
    ))
    .push(&session)
    .await?;
    Ok(Redirect::to("/suggestions"))
}

async fn pause_matching(
    State(state): State<AppState>,
    session: Session,
    CurrentMember(member): CurrentMember,
) -> AppResult<Redirect> {
    set_matching(&state, &session, &member, false).await
}

async fn resume_matching(
    State(state): State<AppState>,
    session: Session,
    CurrentMember(member): CurrentMember,
) -> AppResult<Redirect> {
    set_matching(&state, &session, &member, true).await
}

async fn set_matching(state: &AppState, session: &Session, member: &Member, on: bool) -> AppResult<Redirect> {
    crate::members::store::update_matching(&state.pool, member.id, on).await?;
    let flash = if on {
        Flash::success("Suggestions resumed. The next round will include you.")
    } else {
        Flash::info("Suggestions paused. Cuppa will not suggest you to anyone until you resume.")
    };
    flash.push(session).await?;
    Ok(Redirect::to("/suggestions"))
}

#[derive(Template, WebTemplate)]
#[template(path = "scheduler/admin.html")]
struct SchedulerPage {
    layout: Layout,
    rounds: Vec<RoundFigures>,
    settings: Settings,
}

/// How many past rounds the admin page lists (a year of weekly rounds), and how many the chart
/// shows (more would not stay legible in the page's width).
const ROUNDS_LISTED: i64 = 52;
const ROUNDS_CHARTED: usize = 16;

/// One bar of the admin's chart, in the SVG's units: bars 36 wide on a 44 pitch, up to 100 tall
/// above a baseline at 118, with room for the figure above and the week below.
struct Bar {
    x: i64,
    y: i64,
    height: i64,
    label: String,
    pairs: i64,
}

impl SchedulerPage {
    /// The chart's bars for the latest rounds, oldest first, scaled to the tallest.
    fn bars(&self) -> Vec<Bar> {
        let shown = &self.rounds[..self.rounds.len().min(ROUNDS_CHARTED)];
        let tallest = shown.iter().map(|r| r.pairs_made).max().unwrap_or(0).max(1);
        (0..)
            .zip(shown.iter().rev())
            .map(|(i, r)| {
                let height = (r.pairs_made * 100 / tallest).max(1);
                Bar {
                    x: 4 + 44 * i,
                    y: 118 - height,
                    height,
                    label: r.period.format("%-d %b").to_string(),
                    pairs: r.pairs_made,
                }
            })
            .collect()
    }

    /// Drawn at its natural size (the CSS narrows it on small screens), so one bar stays a bar.
    fn chart_width(&self, bars: usize) -> usize {
        8 + 44 * bars
    }
}

async fn show_scheduler(State(state): State<AppState>, Admin(_): Admin, layout: Layout) -> AppResult<SchedulerPage> {
    let rounds = store::list_rounds(&state.pool, ROUNDS_LISTED).await?;
    Ok(SchedulerPage { layout, rounds, settings: state.scheduler.clone() })
}

#[derive(Debug, Default, Deserialize)]
struct RunForm {
    #[serde(default)]
    dry_run: Option<String>,
}

/// How long the admin's request waits for a round before answering that it is still running
/// (the request timeout is 20 s; a large round may take longer and carries on regardless).
const RUN_WAIT: std::time::Duration = std::time::Duration::from_secs(15);

async fn run_round(
    State(state): State<AppState>,
    session: Session,
    Admin(admin): Admin,
    Form(form): Form<RunForm>,
) -> AppResult<Redirect> {
    let dry_run = form.dry_run.is_some();
    if !dry_run {
        // The asking is what is audited: the round itself may finish after this request.
        let entry = audit::Entry {
            action: audit::Action::RunRound,
            target_member: None,
            target: "this week's round".to_owned(),
            detail: String::new(),
            reason: String::new(),
        };
        audit::record(&mut *state.pool.acquire().await?, audit::Actor::Admin(&admin), &entry).await?;
    }
    // Spawned, so that a round longer than the request still finishes (and commits).
    let round = tokio::spawn({
        let (pool, settings) = (state.pool.clone(), state.scheduler.clone());
        async move { round::run(&pool, &settings, Utc::now(), Some(admin.id), dry_run).await }
    });
    let flash = match tokio::time::timeout(RUN_WAIT, round).await {
        Err(_) => Flash::info("The round is still running; refresh this page in a minute to see it below."),
        Ok(joined) => match joined.map_err(|err| anyhow::anyhow!("the round stopped: {err}"))?? {
            Outcome::Ran(figures) if dry_run => Flash::info(format!("Dry run, nothing written: {}", summary(&figures))),
            Outcome::Ran(figures) => Flash::success(format!("Round written: {}", summary(&figures))),
            Outcome::AlreadyRunning => Flash::error("A round is already running; try again when it has finished."),
            Outcome::AlreadyDone(period) => Flash::info(format!(
                "This week's round (week of {}) has already run; the next one can run from Monday.",
                period.format("%-d %b %Y")
            )),
        },
    };
    flash.push(&session).await?;
    Ok(Redirect::to("/admin/scheduler"))
}

/// A round's figures on one line, for the admin's flash and `cuppa schedule`.
pub fn summary(f: &RoundFigures) -> String {
    format!(
        "{} considered, {} matchable, {}, {} made ({:.1}% of matchable members suggested), \
         total weight {}; load {} ms, score {} ms, match {} ms, write {} ms",
        counted(f.members_considered, "member", "members"),
        f.members_matchable,
        counted(f.candidate_pairs, "candidate pair", "candidate pairs"),
        counted(f.pairs_made, "pair", "pairs"),
        f.suggested_percent(),
        f.total_weight,
        f.load_ms,
        f.score_ms,
        f.match_ms,
        f.write_ms
    )
}

/// "1 pair", "2 pairs": small rounds are common (a new community, a test), and "1 pairs made"
/// reads wrong.
fn counted(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
