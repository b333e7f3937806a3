//! Coffee invitations: sent from a profile, answered, agreed, and closed with "did you meet?".
//! Every move locks the invitation row, asks `model::State::next` whether it is allowed, and
//! records the notices in the same transaction. Writes `invitations`, `met_pairs` (two yeses)
//! and, through `notify`, `notifications` and `outbox`.

pub mod jobs;
pub mod model;
pub mod notices;
pub mod store;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, Query, State as AxumState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tower_sessions::Session;

use crate::AppState;
use crate::auth::{Admin, CurrentMember};
use crate::error::{AppError, AppResult};
use crate::members::model::{InvitePolicy, Member, Profile, Status};
use crate::notify::model::Kind;
use crate::photos::model::Size;
use crate::social::store::MetHow;
use crate::venues::model::Venue;
use crate::web::bidi::isolate;
use crate::web::routes::Routes;
use crate::web::{FieldErrors, Flash, Layout};
use model::{Action, Invitation, InviteForm, MetAnswer, NOTE_FIELD, Refusal, Side, State, TimesForm};

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .get("/m/{handle}/invite", invite_form)
        .post("/m/{handle}/invite", send_invitation)
        .get("/invitations", list_invitations)
        .get("/invitations/{id}", show_invitation)
        .post("/invitations/{id}/accept", accept)
        .post("/invitations/{id}/decline", decline)
        .post("/invitations/{id}/counter", counter)
        .post("/invitations/{id}/cancel", cancel)
        .post("/invitations/{id}/met", answer_met)
        .get("/admin/no-shows", list_no_shows)
}

#[derive(Template, WebTemplate)]
#[template(path = "invitations/new.html")]
struct InvitePage {
    layout: Layout,
    invitee: Profile,
    venues: Vec<Venue>,
    /// More places are approved in the two cities than the list holds.
    venues_left_out: bool,
    form: InviteForm,
    errors: FieldErrors,
}

impl InvitePage {
    fn is_chosen(&self, venue: &Venue) -> bool {
        self.form.venue_id == venue.id.to_string()
    }

    fn note_limit(&self) -> usize {
        NOTE_FIELD.max_chars
    }
}

/// The invitee's "who may invite me" setting, given whether they follow the inviter.
fn check_policy(policy: InvitePolicy, follows_inviter: bool) -> AppResult<()> {
    match policy {
        InvitePolicy::Nobody => Err(AppError::Forbidden("This member is not taking invitations at the moment.")),
        InvitePolicy::Following if !follows_inviter => {
            Err(AppError::Forbidden("This member takes invitations only from people they follow."))
        }
        _ => Ok(()),
    }
}

/// One invitation between two people is open at a time, whoever sent it.
fn already_open(invitee: &Profile) -> AppError {
    AppError::Conflict(format!(
        "You already have an open invitation with {}: see /invitations.",
        isolate(&invitee.display_name)
    ))
}

/// The member `inviter` may invite, with the places they may choose; or why not. A refusal
/// looks the same whichever check made it, except where saying why helps the inviter.
/// Calls off every open invitation of a member being suspended and tells each other side,
/// naming no reason, on the suspension's transaction. Gives how many.
pub async fn withdraw_member(conn: &mut sqlx::PgConnection, member: i64) -> sqlx::Result<usize> {
    let cancelled = store::cancel_all_open_of(&mut *conn, member).await?;
    let notices: Vec<_> = cancelled
        .iter()
        .filter_map(|invitation| {
            // The side told is the one the suspended member is not on.
            let side = invitation.side_of(member)?;
            let told = if side == Side::Inviter { Side::Invitee } else { Side::Inviter };
            Some((invitation.other(side).0, notices::withdrawn(invitation, told)))
        })
        .collect();
    crate::notify::store::record_all(conn, &notices).await?;
    Ok(cancelled.len())
}

/// Why a hidden member cannot start anything new with anyone: whoever they invited would find
/// a profile that answers 404. What they already have with others goes on.
const HIDDEN_CANNOT_INVITE: &str = "The Cuppa team has hidden your profile, so you cannot invite anyone new for now. \
     Coffees you have already agreed go on.";

async fn invitable(state: &AppState, inviter: &Member, handle: &str) -> AppResult<(Profile, Vec<Venue>, bool)> {
    if inviter.status == Status::Hidden {
        return Err(AppError::Forbidden(HIDDEN_CANNOT_INVITE));
    }
    let (invitee, relation) = crate::social::find_visible_profile(&state.pool, inviter.id, handle).await?;
    if invitee.id == inviter.id {
        return Err(AppError::BadRequest("You cannot invite yourself to coffee.".to_owned()));
    }
    let policy = crate::members::store::get_privacy(&state.pool, invitee.id).await?.invite_policy;
    check_policy(policy, relation.follows_me)?;
    if store::open_between(&state.pool, inviter.id, invitee.id).await?.is_some() {
        return Err(already_open(&invitee));
    }
    // Approved places in the invitee's city, then in the inviter's when it differs.
    let (mut venues, mut left_out) = crate::venues::choices(&state.pool, Some(&invitee.city)).await?;
    let own_city = crate::members::store::get_profile(&state.pool, inviter.id).await?.city;
    if !own_city.eq_ignore_ascii_case(&invitee.city) {
        let (own, own_left_out) = crate::venues::choices(&state.pool, Some(&own_city)).await?;
        venues.extend(own);
        left_out |= own_left_out;
    }
    Ok((invitee, venues, left_out))
}

async fn invite_form(
    AxumState(state): AxumState<AppState>,
    CurrentMember(member): CurrentMember,
    Path(handle): Path<String>,
    layout: Layout,
) -> AppResult<InvitePage> {
    let (invitee, venues, venues_left_out) = invitable(&state, &member, &handle).await?;
    Ok(InvitePage {
        layout,
        invitee,
        venues,
        venues_left_out,
        form: InviteForm::default(),
        errors: FieldErrors::default(),
    })
}

async fn send_invitation(
    AxumState(state): AxumState<AppState>,
    session: Session,
    CurrentMember(member): CurrentMember,
    Path(handle): Path<String>,
    layout: Layout,
    Form(form): Form<InviteForm>,
) -> AppResult<Response> {
    let (invitee, venues, venues_left_out) = invitable(&state, &member, &handle).await?;
    let mut errors = FieldErrors::default();
    let venue = form.venue_id.trim().parse::<i64>().ok().and_then(|id| venues.iter().find(|v| v.id == id));
    let times = match venue {
        Some(venue) => form.times.check(venue.time_zone.parse().unwrap_or(chrono_tz::UTC), Utc::now(), &mut errors),
        None => {
            errors.add("venue_id", "Choose one of the places listed.");
            Vec::new()
        }
    };
    let note = NOTE_FIELD.check(&form.note, &mut errors);
    let Some(venue) = venue.filter(|_| errors.is_empty()) else {
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            InvitePage { layout, invitee, venues, venues_left_out, form, errors },
        )
            .into_response());
    };

    let mut tx = state.pool.begin().await?;
    let id = send_in(&mut tx, member.id, &invitee, venue.id, &times, &note).await?;
    tx.commit().await?;
    Flash::success(format!("Invitation sent. {} will be told.", isolate(&invitee.display_name))).push(&session).await?;
    Ok(Redirect::to(&format!("/invitations/{id}")).into_response())
}

/// Sends an invitation on `conn`'s transaction after checking, under the locks, what may have
/// changed since the form was drawn: both members' status, blocks, the invitee's setting, the
/// inviter's cap and an invitation already open. Tells the invitee. The caller commits. Also
/// used by accepting a scheduler suggestion, which sends an invitation on the accepter's behalf.
pub(crate) async fn send_in(
    conn: &mut sqlx::PgConnection,
    inviter: i64,
    invitee: &Profile,
    venue: i64,
    times: &[chrono::DateTime<Utc>],
    note: &str,
) -> AppResult<i64> {
    // The graph locks first (smaller id first, as a block and a follow take them), so a
    // suspension, a block, an unfollow or a change of setting cannot cross the checks below:
    // each takes the graph lock of the member it changes. Then the inviter's row lock, which
    // makes the cap exact.
    crate::social::store::lock_graphs_of_pair(conn, inviter, invitee.id).await?;
    match crate::members::store::lock_member(conn, inviter).await? {
        Status::Active => {}
        Status::Hidden => return Err(AppError::Forbidden(HIDDEN_CANNOT_INVITE)),
        Status::Suspended | Status::Deleted => {
            return Err(AppError::Forbidden("Your account can no longer send invitations."));
        }
    }
    if crate::members::store::get_status(&mut *conn, invitee.id).await? != Status::Active {
        return Err(AppError::NotFound);
    }
    let relation = crate::social::store::get_relation(&mut *conn, inviter, invitee.id).await?;
    if relation.blocked_either_way() {
        return Err(AppError::NotFound);
    }
    let policy = crate::members::store::get_privacy(&mut *conn, invitee.id).await?.invite_policy;
    check_policy(policy, relation.follows_me)?;
    if !store::may_send_more(conn, inviter).await? {
        return Err(AppError::Conflict(format!(
            "You have {} invitations waiting for an answer. Wait for some answers, or cancel one, before sending more.",
            model::MAX_OPEN_SENT
        )));
    }
    let id = match store::insert_invitation(conn, inviter, invitee.id, venue, times, note).await {
        Ok(id) => id,
        Err(sqlx::Error::Database(db)) if db.constraint() == Some("invitations_one_open_per_pair") => {
            return Err(already_open(invitee));
        }
        Err(other) => return Err(other.into()),
    };
    let invitation = store::find_invitation(&mut *conn, id).await?.ok_or(AppError::NotFound)?;
    crate::notify::store::record(
        conn,
        invitee.id,
        &notices::notice(Kind::InvitationReceived, &invitation, Side::Invitee),
    )
    .await?;
    Ok(id)
}

/// The member's invitations, sorted into the page's four lists.
#[derive(Template, WebTemplate)]
#[template(path = "invitations/list.html")]
struct InvitationsPage {
    layout: Layout,
    me: i64,
    received: Vec<Invitation>,
    sent: Vec<Invitation>,
    upcoming: Vec<Invitation>,
    past: Vec<Invitation>,
    /// Where the next (older) page starts, when there is one.
    next: Option<String>,
    /// Not the first page.
    paged: bool,
}

/// Invitations on one page of `/invitations`.
const LIST_PAGE: i64 = 50;

#[derive(Debug, Default, Deserialize)]
struct ListQuery {
    /// Show the invitations after the previous page's last one (open ones come first), written by `cursor`.
    before: Option<String>,
}

/// Where the page after `invitation` starts: open or not, its last change (microseconds, as
/// stored) and id.
fn cursor(invitation: &Invitation) -> String {
    let open = u8::from(invitation.state.is_open());
    format!("{open}.{}.{}", invitation.updated_at.timestamp_micros(), invitation.id)
}

fn parse_cursor(cursor: &str) -> Option<store::ListCursor> {
    let mut parts = cursor.splitn(3, '.');
    let open = match parts.next()? {
        "1" => true,
        "0" => false,
        _ => return None,
    };
    let updated_at = DateTime::from_timestamp_micros(parts.next()?.parse().ok()?)?;
    Some(store::ListCursor { open, updated_at, id: parts.next()?.parse().ok()? })
}

async fn list_invitations(
    AxumState(state): AxumState<AppState>,
    CurrentMember(member): CurrentMember,
    Query(query): Query<ListQuery>,
    layout: Layout,
) -> AppResult<InvitationsPage> {
    let before = match query.before.as_deref() {
        Some(cursor) => Some(parse_cursor(cursor).ok_or(AppError::BadRequest("No such page.".to_owned()))?),
        None => None,
    };
    let mut all = store::list_invitations_of(&state.pool, member.id, before, LIST_PAGE + 1).await?;
    let next = if all.len() as i64 > LIST_PAGE {
        all.truncate(LIST_PAGE as usize);
        all.last().map(cursor)
    } else {
        None
    };
    let (mut received, mut sent, mut upcoming, mut past) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for invitation in all {
        match invitation.state {
            State::Pending | State::Countered if invitation.invitee_id == member.id => received.push(invitation),
            State::Pending | State::Countered => sent.push(invitation),
            State::Accepted => upcoming.push(invitation),
            _ => past.push(invitation),
        }
    }
    upcoming.sort_by_key(|i| i.accepted_time);
    Ok(InvitationsPage { layout, me: member.id, received, sent, upcoming, past, next, paged: before.is_some() })
}

#[derive(Template, WebTemplate)]
#[template(path = "invitations/show.html")]
struct InvitationPage {
    layout: Layout,
    invitation: Invitation,
    side: Side,
    counter: TimesForm,
    errors: FieldErrors,
}

impl InvitationPage {
    fn other_name(&self) -> &str {
        self.invitation.other(self.side).1
    }

    fn other_handle(&self) -> &str {
        self.invitation.other(self.side).2
    }

    fn other_id(&self) -> i64 {
        self.invitation.other(self.side).0
    }

    fn other_photo(&self) -> Option<i64> {
        self.invitation.other_photo(self.side)
    }

    /// Whether the other person has a profile to link to: not a former member (nor a hidden
    /// or suspended one), whose profile answers 404.
    fn other_has_profile(&self) -> bool {
        let status = match self.side {
            Side::Inviter => self.invitation.invitee_status,
            Side::Invitee => self.invitation.inviter_status,
        };
        status == Status::Active
    }

    fn is_inviter(&self) -> bool {
        self.side == Side::Inviter
    }

    fn my_turn(&self) -> bool {
        self.invitation.state.to_answer() == Some(self.side)
    }

    fn may_cancel(&self) -> bool {
        self.invitation.state.next(Action::Cancel, Some(self.side)).is_ok()
    }

    fn my_answer(&self) -> Option<MetAnswer> {
        self.invitation.answer_of(self.side)
    }

    /// Who proposed the times now on the table: the inviter, or whoever countered last.
    fn proposer(&self) -> &str {
        if self.invitation.proposed_by == self.invitation.invitee_id {
            &self.invitation.invitee_name
        } else {
            &self.invitation.inviter_name
        }
    }

    fn closer(&self) -> &str {
        match self.invitation.closed_by {
            Some(id) if id == self.invitation.inviter_id => &self.invitation.inviter_name,
            Some(_) => &self.invitation.invitee_name,
            None => "",
        }
    }

    fn open_choices(&self) -> Vec<(i64, String)> {
        self.invitation.open_choices(Utc::now())
    }

    fn both_met(&self) -> bool {
        model::both_met(self.invitation.inviter_answer, self.invitation.invitee_answer)
    }
}

/// The invitation, for one of its two people; anyone else is told it does not exist, and so
/// is either of the two once a block stands between them (as for profiles).
pub(crate) async fn load_for(state: &AppState, member: &Member, id: i64) -> AppResult<(Invitation, Side)> {
    let invitation = store::find_invitation(&state.pool, id).await?.ok_or(AppError::NotFound)?;
    let side = invitation.side_of(member.id).ok_or(AppError::NotFound)?;
    let (other, _, _) = invitation.other(side);
    if crate::social::store::get_relation(&state.pool, member.id, other).await?.blocked_either_way() {
        return Err(AppError::NotFound);
    }
    Ok((invitation, side))
}

async fn show_invitation(
    AxumState(state): AxumState<AppState>,
    CurrentMember(member): CurrentMember,
    Path(id): Path<i64>,
    layout: Layout,
) -> AppResult<InvitationPage> {
    let (invitation, side) = load_for(&state, &member, id).await?;
    let counter = TimesForm::default();
    Ok(InvitationPage { layout, invitation, side, counter, errors: FieldErrors::default() })
}

/// A member's move, with what it carries.
enum Move {
    Accept(DateTime<Utc>),
    Decline(String),
    Counter(Vec<DateTime<Utc>>),
    Cancel(String),
}

impl Move {
    fn action(&self) -> Action {
        match self {
            Move::Accept(_) => Action::Accept,
            Move::Decline(_) => Action::Decline,
            Move::Counter(_) => Action::Counter,
            Move::Cancel(_) => Action::Cancel,
        }
    }

    fn kind(&self) -> Kind {
        match self {
            Move::Accept(_) => Kind::InvitationAccepted,
            Move::Decline(_) => Kind::InvitationDeclined,
            Move::Counter(_) => Kind::InvitationCountered,
            Move::Cancel(_) => Kind::InvitationCancelled,
        }
    }

    fn done(&self) -> &'static str {
        match self {
            Move::Accept(_) => "Coffee agreed. It is in your upcoming coffees.",
            Move::Decline(_) => "Invitation declined.",
            Move::Counter(_) => "Your times are proposed. The choice is theirs now.",
            Move::Cancel(_) => "Cancelled. They will be told.",
        }
    }
}

fn refused(refusal: Refusal) -> AppError {
    match refusal {
        Refusal::NotYours => AppError::Forbidden("That is not yours to do on this invitation."),
        Refusal::NotNow => AppError::Conflict("This invitation cannot do that any more.".to_owned()),
    }
}

/// Applies `mv` by `member`, who saw the invitation in state `seen`: locks the row, checks the
/// move against the state machine, writes it and tells the other side, all in one transaction.
/// A stranger gets 403; a page that is out of date (the state moved since) gets 409.
async fn apply_move(state: &AppState, member: &Member, id: i64, seen: State, mv: Move) -> AppResult<()> {
    let mut tx = state.pool.begin().await?;
    let invitation = store::lock_invitation(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    let side = invitation.side_of(member.id).ok_or(AppError::Forbidden("This invitation is not yours."))?;
    if invitation.state != seen {
        return Err(AppError::Conflict(format!(
            "This invitation changed while you were looking at it: it is now “{}”. Reload it to see.",
            invitation.state.label()
        )));
    }
    let next = invitation.state.next(mv.action(), Some(side)).map_err(refused)?;
    let (other_id, other_name, _) = invitation.other(side);
    let other_suspended = match side {
        Side::Inviter => invitation.invitee_status,
        Side::Invitee => invitation.inviter_status,
    } == Status::Suspended;
    if other_suspended && matches!(mv, Move::Accept(_) | Move::Counter(_)) {
        return Err(AppError::Conflict(format!(
            "{}'s account is suspended, so this coffee cannot go ahead.",
            isolate(other_name)
        )));
    }
    let mut proposed = invitation.proposed_times.clone();
    let mut proposed_by = invitation.proposed_by;
    let mut accepted = invitation.accepted_time;
    let mut closing_note = String::new();
    let mut closed_by = None;
    match &mv {
        Move::Accept(time) => {
            if !invitation.proposed_times.contains(time) {
                return Err(AppError::BadRequest("Choose one of the proposed times.".to_owned()));
            }
            if *time <= Utc::now() {
                return Err(AppError::Conflict("That time has passed. Propose other times instead.".to_owned()));
            }
            accepted = Some(*time);
        }
        Move::Counter(times) => {
            proposed = times.clone();
            proposed_by = member.id;
        }
        Move::Decline(note) | Move::Cancel(note) => {
            closing_note = note.clone();
            closed_by = Some(member.id);
        }
    }
    let change = store::Change {
        state: next,
        proposed_times: &proposed,
        proposed_by,
        accepted_time: accepted,
        closing_note: &closing_note,
        closed_by,
    };
    store::update_invitation(&mut tx, id, &change).await?;
    let moved = Invitation {
        state: next,
        proposed_times: proposed.clone(),
        proposed_by,
        accepted_time: accepted,
        closing_note: closing_note.clone(),
        closed_by,
        ..invitation.clone()
    };
    let other_side = if side == Side::Inviter { Side::Invitee } else { Side::Inviter };
    crate::notify::store::record(&mut tx, other_id, &notices::notice(mv.kind(), &moved, other_side)).await?;
    tx.commit().await?;
    Ok(())
}

/// Every answer form carries the state its page showed.
#[derive(Debug, Deserialize)]
struct SeenForm {
    #[serde(default)]
    seen: String,
}

fn seen_state(raw: &str) -> AppResult<State> {
    State::from_value(raw).ok_or_else(|| AppError::BadRequest("The form is missing the invitation's state.".to_owned()))
}

async fn finish(session: &Session, id: i64, done: &'static str) -> AppResult<Redirect> {
    Flash::success(done).push(session).await?;
    Ok(Redirect::to(&format!("/invitations/{id}")))
}

#[derive(Debug, Deserialize)]
struct AcceptForm {
    #[serde(flatten)]
    seen: SeenForm,
    #[serde(default)]
    time: String,
}

async fn accept(
    AxumState(state): AxumState<AppState>,
    session: Session,
    CurrentMember(member): CurrentMember,
    Path(id): Path<i64>,
    Form(form): Form<AcceptForm>,
) -> AppResult<Redirect> {
    let seen = seen_state(&form.seen.seen)?;
    let time = form
        .time
        .trim()
        .parse::<i64>()
        .ok()
        .and_then(|secs| DateTime::from_timestamp(secs, 0))
        .ok_or_else(|| AppError::BadRequest("Choose one of the proposed times.".to_owned()))?;
    let mv = Move::Accept(time);
    let done = mv.done();
    apply_move(&state, &member, id, seen, mv).await?;
    finish(&session, id, done).await
}

#[derive(Debug, Deserialize)]
struct NoteForm {
    #[serde(flatten)]
    seen: SeenForm,
    #[serde(default)]
    note: String,
}

impl NoteForm {
    fn note(&self) -> AppResult<String> {
        let mut errors = FieldErrors::default();
        let note = NOTE_FIELD.check(&self.note, &mut errors);
        match errors.get("note") {
            Some(message) => Err(AppError::BadRequest(format!("Note: {message}"))),
            None => Ok(note),
        }
    }
}

/// Declining and cancelling: a closing move with an optional note.
async fn close(
    state: &AppState,
    session: &Session,
    member: &Member,
    id: i64,
    form: &NoteForm,
    mv: fn(String) -> Move,
) -> AppResult<Redirect> {
    let mv = mv(form.note()?);
    let done = mv.done();
    apply_move(state, member, id, seen_state(&form.seen.seen)?, mv).await?;
    finish(session, id, done).await
}

async fn decline(
    AxumState(state): AxumState<AppState>,
    session: Session,
    CurrentMember(member): CurrentMember,
    Path(id): Path<i64>,
    Form(form): Form<NoteForm>,
) -> AppResult<Redirect> {
    close(&state, &session, &member, id, &form, Move::Decline).await
}

async fn cancel(
    AxumState(state): AxumState<AppState>,
    session: Session,
    CurrentMember(member): CurrentMember,
    Path(id): Path<i64>,
    Form(form): Form<NoteForm>,
) -> AppResult<Redirect> {
    close(&state, &session, &member, id, &form, Move::Cancel).await
}

#[derive(Debug, Deserialize)]
struct CounterForm {
    #[serde(flatten)]
    seen: SeenForm,
    #[serde(flatten)]
    times: TimesForm,
}

async fn counter(
    AxumState(state): AxumState<AppState>,
    session: Session,
    CurrentMember(member): CurrentMember,
    Path(id): Path<i64>,
    layout: Layout,
    Form(form): Form<CounterForm>,
) -> AppResult<Response> {
    let seen = seen_state(&form.seen.seen)?;
    let (invitation, side) = load_for(&state, &member, id).await.map_err(|err| match err {
        AppError::NotFound => AppError::Forbidden("This invitation is not yours."),
        other => other,
    })?;
    let mut errors = FieldErrors::default();
    let times = form.times.check(invitation.zone(), Utc::now(), &mut errors);
    if !errors.is_empty() {
        let page = InvitationPage { layout, invitation, side, counter: form.times, errors };
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    let mv = Move::Counter(times);
    let done = mv.done();
    apply_move(&state, &member, id, seen, mv).await?;
    Ok(finish(&session, id, done).await?.into_response())
}

#[derive(Debug, Deserialize)]
struct MetForm {
    #[serde(default)]
    answer: String,
}

/// "Did you meet?" after a held coffee: each side answers once. Two yeses record the pair as
/// met; "they didn't come" stays between the member and the admins.
async fn answer_met(
    AxumState(state): AxumState<AppState>,
    session: Session,
    CurrentMember(member): CurrentMember,
    Path(id): Path<i64>,
    Form(form): Form<MetForm>,
) -> AppResult<Redirect> {
    let answer = MetAnswer::from_value(&form.answer)
        .ok_or_else(|| AppError::BadRequest("Say whether you met or they didn't come.".to_owned()))?;
    let parties = store::find_invitation(&state.pool, id).await?.ok_or(AppError::NotFound)?;
    let mut tx = state.pool.begin().await?;
    // The graph locks before the row, in the order a block takes them, so that no met pair is
    // recorded across a block made at the same moment.
    crate::social::store::lock_graphs_of_pair(&mut tx, parties.inviter_id, parties.invitee_id).await?;
    let invitation = store::lock_invitation(&mut tx, id).await?.ok_or(AppError::NotFound)?;
    let side = invitation.side_of(member.id).ok_or(AppError::Forbidden("This invitation is not yours."))?;
    let (other, _, _) = invitation.other(side);
    if crate::social::store::get_relation(&mut *tx, member.id, other).await?.blocked_either_way() {
        return Err(AppError::NotFound);
    }
    if invitation.state != State::Held {
        return Err(AppError::Conflict("You can say whether you met once the coffee's time has passed.".to_owned()));
    }
    if invitation.answer_of(side).is_some() {
        return Err(AppError::Conflict("You have already answered for this coffee.".to_owned()));
    }
    store::update_met_answer(&mut tx, id, side == Side::Inviter, answer).await?;
    let answered = match side {
        Side::Inviter => Invitation { inviter_answer: Some(answer), ..invitation },
        Side::Invitee => Invitation { invitee_answer: Some(answer), ..invitation },
    };
    let message = if model::both_met(answered.inviter_answer, answered.invitee_answer) {
        crate::social::store::insert_met_pair(&mut *tx, answered.inviter_id, answered.invitee_id, MetHow::Coffee)
            .await?;
        for (to, to_side) in [(answered.inviter_id, Side::Inviter), (answered.invitee_id, Side::Invitee)] {
            crate::notify::store::record(&mut tx, to, &notices::notice(Kind::MetConfirmed, &answered, to_side)).await?;
        }
        "You both say you met. It is on your profile now."
    } else if answer == MetAnswer::NoShow {
        "Thank you for telling us. Only you and the admins can see this."
    } else {
        "Thank you. When they say so too, you are recorded as having met."
    };
    tx.commit().await?;
    Flash::success(message).push(&session).await?;
    Ok(Redirect::to(&format!("/invitations/{id}")))
}

#[derive(Template, WebTemplate)]
#[template(path = "invitations/no_shows.html")]
struct NoShowsPage {
    layout: Layout,
    no_shows: Vec<store::NoShow>,
    meetup_no_shows: Vec<crate::meetups::store::MeetupNoShow>,
    page: u32,
    /// Either list goes on past this page.
    has_more: bool,
}

/// Rows of each list on one page of `/admin/no-shows`.
const NO_SHOWS_PAGE: i64 = 50;

#[derive(Debug, Default, Deserialize)]
struct PageQuery {
    page: Option<u32>,
}

/// Both lists page together: page n holds the nth run of each, and goes on while either does.
async fn list_no_shows(
    AxumState(state): AxumState<AppState>,
    Admin(_): Admin,
    Query(query): Query<PageQuery>,
    layout: Layout,
) -> AppResult<NoShowsPage> {
    let page = query.page.unwrap_or(1).max(1);
    let offset = i64::from(page - 1) * NO_SHOWS_PAGE;
    let mut no_shows = store::list_no_shows(&state.pool, NO_SHOWS_PAGE + 1, offset).await?;
    let mut meetup_no_shows =
        crate::meetups::store::list_no_shows(&state.pool, None, NO_SHOWS_PAGE + 1, offset).await?;
    let has_more = no_shows.len() as i64 > NO_SHOWS_PAGE || meetup_no_shows.len() as i64 > NO_SHOWS_PAGE;
    no_shows.truncate(NO_SHOWS_PAGE as usize);
    meetup_no_shows.truncate(NO_SHOWS_PAGE as usize);
    Ok(NoShowsPage { layout, no_shows, meetup_no_shows, page, has_more })
}
