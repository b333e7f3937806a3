//! A member's own account controls: confirming their email address (`/verify-email/…`), the
//! account settings (`/settings/account`: the address, changing it, changing the password)
//! and a forgotten password (`/password/forgot`, `/password/reset/…`). Writes
//! `account_tokens` and `sessions` (through `account_store`), `members` (the address and the
//! password, through the members store) and account emails (through the notify store).
//!
//! Links sent by email are confirmed with a button (a POST), never by opening them: mail
//! scanners open links in emails before the reader does.

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use sqlx::PgConnection;
use tower_sessions::Session;

use super::account_store::{self, LINKS_PER_HOUR, Purpose, RESEND_INTERVAL, Token};
use super::extractors::MEMBER_KEY;
use super::{CurrentMember, MAX_PASSWORD_CHARS, MIN_PASSWORD_CHARS, MaybeMember, password, store};
use crate::AppState;
use crate::error::{AppError, AppResult};
use crate::members::model::{Member, validate_email};
use crate::members::store as members;
use crate::notify::store as notify;
use crate::web::routes::Routes;
use crate::web::{ClientAddr, FieldErrors, Flash, Layout};

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .get("/verify-email/{secret}", confirm_email_form)
        .post("/verify-email/{secret}", confirm_email)
        .get("/settings/account", account_settings)
        .post("/settings/account/verify", resend_confirmation)
        .post("/settings/account/email", change_email)
        .post("/settings/account/password", change_password)
        .get("/password/forgot", forgot_password_form)
        .post("/password/forgot", forgot_password)
        .get("/password/reset/{secret}", reset_password_form)
        .post("/password/reset/{secret}", reset_password)
}

/// The rules for a new password, at sign-up and whenever it changes: a message beside `field`.
pub fn check_new_password(password: &str, field: &'static str, errors: &mut FieldErrors) {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        errors.add(field, format!("Use at least {MIN_PASSWORD_CHARS} characters."));
    } else if chars > MAX_PASSWORD_CHARS {
        errors.add(field, format!("Use at most {MAX_PASSWORD_CHARS} characters."));
    }
}

/// What a link to confirm an address is for, which its email says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confirming {
    /// The address given at sign-up (or again from the banner).
    NewAccount,
    /// The address a member asked to change to.
    NewAddress,
}

/// Draws a link confirming `email` as the member's address and queues it to that address.
pub async fn send_confirmation(
    conn: &mut PgConnection,
    member: i64,
    handle: &str,
    email: &str,
    confirming: Confirming,
) -> sqlx::Result<()> {
    let secret = account_store::issue(conn, member, Purpose::VerifyEmail, Some(email)).await?;
    let lifetime = Purpose::VerifyEmail.lifetime_text();
    let (subject, body) = match confirming {
        Confirming::NewAccount => (
            "Confirm your email address for Cuppa",
            format!(
                "Someone, we hope you, joined Cuppa as @{handle} with this address.\n\
                 To confirm it, open the link below and press the button. The link works for {lifetime}.\n\n\
                 If it was not you, there is nothing to do: Cuppa sends nothing else to this address\n\
                 until it is confirmed."
            ),
        ),
        Confirming::NewAddress => (
            "Confirm your new email address for Cuppa",
            format!(
                "The Cuppa member @{handle} asked to use this address from now on.\n\
                 To confirm it, open the link below and press the button. The link works for {lifetime}.\n\n\
                 If it was not you, there is nothing to do: the address is not used until it is confirmed."
            ),
        ),
    };
    notify::queue_account_email(&mut *conn, member, email, subject, &body, &format!("/verify-email/{secret}")).await
}

/// Locks the member's row and says until when they must wait for another link of this kind
/// `to` an address, if they must (see `account_store::must_wait_until`). The lock makes two
/// requests at once take turns, so only one of them sends.
async fn must_wait(
    conn: &mut PgConnection,
    member: i64,
    purpose: Purpose,
    to: Option<&str>,
) -> sqlx::Result<Option<DateTime<Utc>>> {
    members::lock_member(&mut *conn, member).await?;
    account_store::must_wait_until(&mut *conn, member, purpose, to).await
}

/// A time in the member's own zone, the zone named.
fn when_for(member: &Member, time: DateTime<Utc>) -> String {
    let zone: Tz = member.time_zone.parse().unwrap_or(Tz::UTC);
    time.with_timezone(&zone).format("%H:%M %Z").to_string()
}

// ---- Links that do not work ----

/// Why a link from an email cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Problem {
    Unknown,
    Used,
    Expired,
    /// The address is another account's (confirmed there first).
    Taken(String),
}

impl Problem {
    /// Why `token` (the link as found by its secret) cannot be used, if it cannot.
    fn of(token: Option<&Token>) -> Option<Problem> {
        match token {
            None => Some(Problem::Unknown),
            Some(token) if token.used_at.is_some() => Some(Problem::Used),
            Some(token) if token.expires_at <= Utc::now() => Some(Problem::Expired),
            Some(_) => None,
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Problem::Unknown => StatusCode::NOT_FOUND,
            Problem::Used | Problem::Expired => StatusCode::GONE,
            Problem::Taken(_) => StatusCode::CONFLICT,
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "auth/link_problem.html")]
struct LinkProblemPage {
    layout: Layout,
    purpose: Purpose,
    problem: Problem,
}

impl LinkProblemPage {
    fn confirming(&self) -> bool {
        self.purpose == Purpose::VerifyEmail
    }

    /// A new link helps, unless the address is another account's.
    fn offers_new_link(&self) -> bool {
        !matches!(self.problem, Problem::Taken(_))
    }
}

fn link_problem(layout: Layout, purpose: Purpose, problem: Problem) -> Response {
    (problem.status(), LinkProblemPage { layout, purpose, problem }).into_response()
}

/// The link with this secret if it can still be used, or why not. Only a read: the link is
/// taken in the transaction that acts on it.
async fn usable_link(state: &AppState, purpose: Purpose, secret: &str) -> sqlx::Result<Result<Token, Problem>> {
    let token = account_store::find(&state.pool, purpose, secret).await?;
    Ok(match Problem::of(token.as_ref()) {
        Some(problem) => Err(problem),
        None => token.ok_or(Problem::Unknown),
    })
}

// ---- Confirming an address ----

#[derive(Template, WebTemplate)]
#[template(path = "auth/verify_email.html")]
struct ConfirmEmailPage {
    layout: Layout,
    secret: String,
    email: String,
}

async fn confirm_email_form(
    State(state): State<AppState>,
    Path(secret): Path<String>,
    layout: Layout,
) -> AppResult<Response> {
    let token = match usable_link(&state, Purpose::VerifyEmail, &secret).await? {
        Ok(token) => token,
        Err(problem) => return Ok(link_problem(layout, Purpose::VerifyEmail, problem)),
    };
    let email = token.email.unwrap_or_default();
    Ok(ConfirmEmailPage { layout, secret, email }.into_response())
}

async fn confirm_email(
    State(state): State<AppState>,
    session: Session,
    MaybeMember(visitor): MaybeMember,
    Path(secret): Path<String>,
    layout: Layout,
) -> AppResult<Response> {
    let mut tx = state.pool.begin().await?;
    let Some(token) = account_store::take(&mut tx, Purpose::VerifyEmail, &secret).await? else {
        tx.rollback().await?;
        let found = account_store::find(&state.pool, Purpose::VerifyEmail, &secret).await?;
        return Ok(link_problem(layout, Purpose::VerifyEmail, Problem::of(found.as_ref()).unwrap_or(Problem::Used)));
    };
    let before = members::get_account(&mut *tx, token.member_id).await?;
    let email = token.email.unwrap_or_else(|| before.email.clone());
    match members::update_confirmed_email(&mut *tx, token.member_id, &email).await {
        // Rolled back, so the link stays unused: it works once the other account lets go.
        Err(sqlx::Error::Database(db)) if db.constraint() == Some("members_email_key") => {
            tx.rollback().await?;
            return Ok(link_problem(layout, Purpose::VerifyEmail, Problem::Taken(email)));
        }
        done => done?,
    }
    // The old address is told only if it was confirmed: an unconfirmed one may be a typo, and
    // so a stranger's.
    if before.verified && before.email.to_lowercase() != email.to_lowercase() {
        let body = format!(
            "The email address of your Cuppa account @{} was changed just now; Cuppa writes to the\n\
             new address from now on.\n\n\
             If you did not change it, write to the Cuppa team at once: someone else may have your password.",
            before.handle
        );
        notify::queue_account_email(
            &mut *tx,
            before.id,
            &before.email,
            "Your Cuppa email address was changed",
            &body,
            "",
        )
        .await?;
    }
    tx.commit().await?;
    Flash::success(format!("Thank you: {email} is confirmed.")).push(&session).await?;
    let next = match visitor {
        Some(member) if member.id == token.member_id => "/settings/account",
        Some(_) => "/",
        None => "/login",
    };
    Ok(Redirect::to(next).into_response())
}

async fn resend_confirmation(
    State(state): State<AppState>,
    session: Session,
    CurrentMember(member): CurrentMember,
) -> AppResult<Redirect> {
    if member.verified {
        Flash::info("Your email address is already confirmed.").push(&session).await?;
        return Ok(Redirect::to("/settings/account"));
    }
    let mut tx = state.pool.begin().await?;
    let flash = if let Some(until) = must_wait(&mut tx, member.id, Purpose::VerifyEmail, None).await? {
        Flash::error(format!(
            "We sent you a link a short while ago (at most one every {} minutes, {} an hour). If it has not \
             come, check your spam folder; you can ask for another from {}.",
            RESEND_INTERVAL.num_minutes(),
            LINKS_PER_HOUR,
            when_for(&member, until)
        ))
    } else {
        let account = members::get_account(&mut *tx, member.id).await?;
        send_confirmation(&mut tx, member.id, &account.handle, &account.email, Confirming::NewAccount).await?;
        Flash::success(format!("We have sent a new link to {}.", account.email))
    };
    tx.commit().await?;
    flash.push(&session).await?;
    Ok(Redirect::to("/settings/account"))
}

// ---- The account settings ----

/// The change-email form. No `Debug`: it would print the password.
#[derive(Deserialize)]
struct ChangeEmailForm {
    email: String,
    password: String,
}

/// The change-password form. No `Debug`: it would print the passwords.
#[derive(Deserialize)]
struct ChangePasswordForm {
    current_password: String,
    new_password: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "auth/account.html")]
struct AccountPage {
    layout: Layout,
    email: String,
    verified: bool,
    /// An address the member asked to change to, waiting for its link.
    pending: Option<String>,
    /// The new address as typed, when the change-email form comes back.
    new_email: String,
    errors: FieldErrors,
}

async fn account_page(
    state: &AppState,
    member: &Member,
    layout: Layout,
    new_email: String,
    errors: FieldErrors,
) -> AppResult<AccountPage> {
    let account = members::get_account(&state.pool, member.id).await?;
    let pending = account_store::find_pending_email(&state.pool, member.id).await?;
    Ok(AccountPage { layout, email: account.email, verified: account.verified, pending, new_email, errors })
}

async fn account_settings(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    layout: Layout,
) -> AppResult<AccountPage> {
    account_page(&state, &member, layout, String::new(), FieldErrors::default()).await
}

const WRONG_PASSWORD: &str = "That is not your current password.";

/// Checks the member's current password as a log-in checks it, under the same throttle: a
/// session left open somewhere must not become a way to guess the password without limit
/// (changing the email or the password, deleting the account).
pub(super) async fn current_password_matches(
    state: &AppState,
    member: &Member,
    client: std::net::IpAddr,
    password: String,
    password_hash: String,
) -> AppResult<bool> {
    let (key, client) = (store::member_key(member.id), store::client_key(client));
    let attempt = store::insert_login_attempt(&state.pool, &key, &client).await?;
    if let Some(until) = store::login_throttled_until(&state.pool, attempt, &key, Some(member.id), &client).await? {
        store::delete_login_attempt(&state.pool, attempt).await?;
        return Err(AppError::TooManyRequests { until });
    }
    let matches = password::verify(password, Some(password_hash)).await?;
    if matches {
        store::delete_login_attempt(&state.pool, attempt).await?;
    }
    Ok(matches)
}

async fn change_email(
    State(state): State<AppState>,
    session: Session,
    CurrentMember(member): CurrentMember,
    ClientAddr(client): ClientAddr,
    layout: Layout,
    Form(form): Form<ChangeEmailForm>,
) -> AppResult<Response> {
    let account = members::get_account(&state.pool, member.id).await?;
    let mut errors = FieldErrors::default();
    let email = validate_email(&form.email, &mut errors);
    if errors.is_empty() && account.verified && email.to_lowercase() == account.email.to_lowercase() {
        errors.add("email", "That is your address already.");
    }
    if !current_password_matches(&state, &member, client, form.password, account.password_hash).await? {
        errors.add("password", WRONG_PASSWORD);
    }
    let mut status = StatusCode::UNPROCESSABLE_ENTITY;
    if errors.is_empty() {
        let mut tx = state.pool.begin().await?;
        if let Some(until) = must_wait(&mut tx, member.id, Purpose::VerifyEmail, Some(&email)).await? {
            errors.add(
                "email",
                format!(
                    "We sent a link to this address a short while ago (at most one every {} minutes, {} an \
                     hour). You can ask for another from {}.",
                    RESEND_INTERVAL.num_minutes(),
                    LINKS_PER_HOUR,
                    when_for(&member, until)
                ),
            );
            status = StatusCode::TOO_MANY_REQUESTS;
        } else {
            send_confirmation(&mut tx, member.id, &account.handle, &email, Confirming::NewAddress).await?;
            tx.commit().await?;
            let text = format!(
                "We have sent a link to {email}. Your address changes when you follow it; until then Cuppa writes to {}.",
                account.email
            );
            Flash::success(text).push(&session).await?;
            return Ok(Redirect::to("/settings/account").into_response());
        }
    }
    Ok((status, account_page(&state, &member, layout, email, errors).await?).into_response())
}

async fn change_password(
    State(state): State<AppState>,
    session: Session,
    CurrentMember(member): CurrentMember,
    ClientAddr(client): ClientAddr,
    layout: Layout,
    Form(form): Form<ChangePasswordForm>,
) -> AppResult<Response> {
    let account = members::get_account(&state.pool, member.id).await?;
    let mut errors = FieldErrors::default();
    check_new_password(&form.new_password, "new_password", &mut errors);
    if !current_password_matches(&state, &member, client, form.current_password, account.password_hash).await? {
        errors.add("current_password", WRONG_PASSWORD);
    }
    if !errors.is_empty() {
        let page = account_page(&state, &member, layout, String::new(), errors).await?;
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    }
    let password_hash = password::hash(form.new_password).await?;
    let this_session = session.id().map(|id| id.to_string());
    let mut tx = state.pool.begin().await?;
    members::update_password(&mut *tx, member.id, &password_hash).await?;
    account_store::end_sessions(&mut *tx, member.id, this_session.as_deref()).await?;
    let body = format!(
        "The password of your Cuppa account @{} was changed just now, and every other session was\n\
         logged out.\n\n\
         If you did not change it, choose a new password with the link below and write to the Cuppa team.",
        account.handle
    );
    notify::queue_account_email(&mut *tx, member.id, &account.email, "Your Cuppa password was changed", &body, FORGOT)
        .await?;
    tx.commit().await?;
    Flash::success("Your password is changed, and you are logged out everywhere else.").push(&session).await?;
    Ok(Redirect::to("/settings/account").into_response())
}

// ---- A forgotten password ----

const FORGOT: &str = "/password/forgot";

#[derive(Debug, Default, Deserialize)]
struct ForgotForm {
    account: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "auth/forgot.html")]
struct ForgotPage {
    layout: Layout,
    account: String,
    errors: FieldErrors,
}

async fn forgot_password_form(layout: Layout) -> ForgotPage {
    ForgotPage { layout, account: String::new(), errors: FieldErrors::default() }
}

/// Answers the same whether or not an account matches, so the form tells nobody who is a
/// member. The link goes to the account's address, confirmed or not: it is the only one it has.
async fn forgot_password(
    State(state): State<AppState>,
    session: Session,
    layout: Layout,
    Form(form): Form<ForgotForm>,
) -> AppResult<Response> {
    let account = form.account.trim().to_owned();
    if account.is_empty() || account.chars().any(char::is_control) {
        let mut errors = FieldErrors::default();
        errors.add("account", "Enter the email address or the handle of your account.");
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, ForgotPage { layout, account, errors }).into_response());
    }
    if let Some(found) = members::find_account(&state.pool, &account).await? {
        let mut tx = state.pool.begin().await?;
        // Within the interval the earlier link still works: nothing new is sent.
        if must_wait(&mut tx, found.id, Purpose::ResetPassword, None).await?.is_none() {
            let secret = account_store::issue(&mut tx, found.id, Purpose::ResetPassword, None).await?;
            let body = format!(
                "Someone, we hope you, asked to reset the password of the Cuppa account @{}.\n\
                 To choose a new password, open the link below within {}. It works once.\n\n\
                 If it was not you, there is nothing to do: your password stays as it is.",
                found.handle,
                Purpose::ResetPassword.lifetime_text()
            );
            let link = format!("/password/reset/{secret}");
            notify::queue_account_email(&mut *tx, found.id, &found.email, "Reset your Cuppa password", &body, &link)
                .await?;
        }
        tx.commit().await?;
    }
    Flash::info(format!(
        "If an account matches, we have sent a link to its email address. It works for {}; \
         if nothing arrives, check your spam folder.",
        Purpose::ResetPassword.lifetime_text()
    ))
    .push(&session)
    .await?;
    Ok(Redirect::to(FORGOT).into_response())
}

/// The new-password form. No `Debug`: it would print the password.
#[derive(Deserialize)]
struct ResetForm {
    password: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "auth/reset.html")]
struct ResetPage {
    layout: Layout,
    secret: String,
    errors: FieldErrors,
}

async fn reset_password_form(
    State(state): State<AppState>,
    Path(secret): Path<String>,
    layout: Layout,
) -> AppResult<Response> {
    if let Err(problem) = usable_link(&state, Purpose::ResetPassword, &secret).await? {
        return Ok(link_problem(layout, Purpose::ResetPassword, problem));
    }
    Ok(ResetPage { layout, secret, errors: FieldErrors::default() }.into_response())
}

/// Sets the new password, uses up every open reset link of the member, ends all their sessions
/// (whoever knew the old password is logged out) and forgives the account's failed log-ins.
async fn reset_password(
    State(state): State<AppState>,
    session: Session,
    Path(secret): Path<String>,
    layout: Layout,
    Form(form): Form<ResetForm>,
) -> AppResult<Response> {
    if let Err(problem) = usable_link(&state, Purpose::ResetPassword, &secret).await? {
        return Ok(link_problem(layout, Purpose::ResetPassword, problem));
    }
    let mut errors = FieldErrors::default();
    check_new_password(&form.password, "password", &mut errors);
    if !errors.is_empty() {
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, ResetPage { layout, secret, errors }).into_response());
    }
    let password_hash = password::hash(form.password).await?;
    let mut tx = state.pool.begin().await?;
    // Taken only now, in the transaction that uses it: of two resets at once, one wins.
    let Some(token) = account_store::take(&mut tx, Purpose::ResetPassword, &secret).await? else {
        tx.rollback().await?;
        return Ok(link_problem(layout, Purpose::ResetPassword, Problem::Used));
    };
    members::update_password(&mut *tx, token.member_id, &password_hash).await?;
    account_store::end_sessions(&mut *tx, token.member_id, None).await?;
    tx.commit().await?;
    store::delete_login_failures(&state.pool, &store::member_key(token.member_id)).await?;
    // This browser's session, if it was the member's, is gone from the store: start afresh
    // rather than write the old one back.
    if session.get::<i64>(MEMBER_KEY).await? == Some(token.member_id) {
        session.flush().await?;
    }
    Flash::success("Your password is changed, and you are logged out everywhere. Log in with the new one.")
        .push(&session)
        .await?;
    Ok(Redirect::to("/login").into_response())
}
