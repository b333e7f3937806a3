//! Accounts: sign-up, log-in, log-out, password hashing, sessions and the extractors every
//! other domain uses for authorisation. Writes `members` (through the members store) at
//! sign-up, and its own `sessions` and the throttles' `login_failures`, `login_addresses` and
//! `sign_up_attempts` (see `store`).

pub mod account;
pub mod account_store;
pub mod deletion;
pub mod export;
pub mod extractors;
pub mod password;
pub mod session_store;
pub mod store;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use tower_sessions::Session;

use crate::AppState;
use crate::error::AppResult;
use crate::members::model::{Status, validate_display_name, validate_email, validate_handle};
use crate::members::store::{self as members, NewMember};
use crate::web::routes::Routes;
use crate::web::{ClientAddr, FieldErrors, Flash, Layout, csrf, retry_after, safe_next};
use extractors::{AUTH_AT_KEY, MEMBER_KEY, SEEN_ON_KEY};
pub use extractors::{Admin, CurrentMember, MaybeMember, Organiser, Viewer, WARNING_PATH};

pub const MIN_PASSWORD_CHARS: usize = 10;
pub const MAX_PASSWORD_CHARS: usize = 128;

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .get("/signup", sign_up_form)
        .post("/signup", sign_up)
        .get("/login", log_in_form)
        .post("/login", log_in)
        .post("/logout", log_out)
        .merge(account::routes())
        .get("/settings/account/export", export::download_data)
        .get("/settings/account/delete", deletion::delete_account_form)
        .post("/settings/account/delete", deletion::delete_account)
}

#[derive(Clone, Default, Deserialize)]
pub struct SignUpForm {
    pub email: String,
    pub handle: String,
    pub display_name: String,
    pub password: String,
}

/// By hand, so that a logged or traced form never shows the password.
impl std::fmt::Debug for SignUpForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignUpForm")
            .field("email", &self.email)
            .field("handle", &self.handle)
            .field("display_name", &self.display_name)
            .field("password", &"<redacted>")
            .finish()
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "auth/signup.html")]
struct SignUpPage {
    layout: Layout,
    form: SignUpForm,
    errors: FieldErrors,
    /// Why a well-filled form was not taken: too many sign-ups from the visitor's address.
    refused: Option<String>,
}

async fn sign_up_form(MaybeMember(member): MaybeMember, layout: Layout) -> Response {
    if member.is_some() {
        return Redirect::to("/").into_response();
    }
    SignUpPage { layout, form: SignUpForm::default(), errors: FieldErrors::default(), refused: None }.into_response()
}

async fn sign_up(
    State(state): State<AppState>,
    session: Session,
    MaybeMember(member): MaybeMember,
    ClientAddr(client): ClientAddr,
    layout: Layout,
    Form(mut form): Form<SignUpForm>,
) -> AppResult<Response> {
    // A member posting the form (from a tab opened before they logged in) would otherwise
    // make a second account and be logged in to it; they are sent home, as the form is.
    if member.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    let mut errors = FieldErrors::default();
    let email = validate_email(&form.email, &mut errors);
    let handle = validate_handle(&form.handle, &mut errors);
    let display_name = validate_display_name(&form.display_name, &mut errors);
    account::check_new_password(&form.password, "password", &mut errors);
    // Only the handle is checked: an address already in use signs up like a new one (its
    // account stays unconfirmed), so the form tells nobody who is a member.
    if errors.get("handle").is_none() && members::handle_taken(&state.pool, &handle).await? {
        errors.add("handle", "This handle is taken. Try another.");
    }
    if errors.is_empty() {
        // Recorded before the (slow) hash and counted after, as log-ins are, so that sign-ups
        // sent all at once see each other.
        let client = store::client_key(client);
        let attempt = store::insert_sign_up_attempt(&state.pool, &client).await?;
        if let Some(until) = store::sign_up_throttled_until(&state.pool, attempt, &client).await? {
            store::delete_sign_up_attempt(&state.pool, attempt).await?;
            form.password.clear();
            return Ok(too_many_sign_ups(layout, form, until));
        }
        let password_hash = password::hash(std::mem::take(&mut form.password)).await?;
        let new =
            NewMember { email: &email, handle: &handle, display_name: &display_name, password_hash: &password_hash };
        let mut tx = state.pool.begin().await?;
        match members::insert_member(&mut *tx, &new).await {
            Ok(id) => {
                account::send_confirmation(&mut tx, id, &handle, &email, account::Confirming::NewAccount).await?;
                // Whoever made the account knows its password: their address is known to it.
                store::upsert_login_address(&mut *tx, id, &client).await?;
                tx.commit().await?;
                start_session(&session, id).await?;
                Flash::success("Welcome to Cuppa! Tell people a little about yourself.").push(&session).await?;
                return Ok(Redirect::to("/settings/profile").into_response());
            }
            // Another sign-up took the handle between the check and the insert.
            Err(sqlx::Error::Database(db)) if db.constraint() == Some("members_handle_key") => {
                errors.add("handle", "This handle is taken. Try another.");
            }
            Err(other) => return Err(other.into()),
        }
    }
    form.password.clear();
    Ok((StatusCode::UNPROCESSABLE_ENTITY, SignUpPage { layout, form, errors, refused: None }).into_response())
}

/// The form again, as typed but for the password, with 429 and when the address may sign up
/// again.
fn too_many_sign_ups(layout: Layout, form: SignUpForm, until: DateTime<Utc>) -> Response {
    let refused = format!(
        "Too many accounts have been made from your address in the last hour. Nothing was saved, \
         but what you typed is kept below: please try again after {} UTC.",
        until.format("%H:%M")
    );
    let page = SignUpPage { layout, form, errors: FieldErrors::default(), refused: Some(refused) };
    (StatusCode::TOO_MANY_REQUESTS, retry_after(until), page).into_response()
}

#[derive(Debug, Default, Deserialize)]
struct NextQuery {
    next: Option<String>,
}

#[derive(Clone, Default, Deserialize)]
pub struct LogInForm {
    pub account: String,
    pub password: String,
    #[serde(default)]
    pub next: String,
}

impl std::fmt::Debug for LogInForm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogInForm")
            .field("account", &self.account)
            .field("password", &"<redacted>")
            .field("next", &self.next)
            .finish()
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "auth/login.html")]
struct LogInPage {
    layout: Layout,
    account: String,
    next: String,
    error: Option<String>,
}

async fn log_in_form(MaybeMember(member): MaybeMember, Query(query): Query<NextQuery>, layout: Layout) -> Response {
    let next = safe_next(query.next.as_deref());
    if member.is_some() {
        return Redirect::to(&next).into_response();
    }
    LogInPage { layout, account: String::new(), next, error: None }.into_response()
}

async fn log_in(
    State(state): State<AppState>,
    session: Session,
    ClientAddr(client): ClientAddr,
    layout: Layout,
    Form(form): Form<LogInForm>,
) -> AppResult<Response> {
    let account = form.account.trim().to_owned();
    let next = safe_next(Some(&form.next));
    // Control characters (a NUL would make PostgreSQL refuse the query) match no account.
    let credentials =
        if account.chars().any(char::is_control) { None } else { members::find_account(&state.pool, &account).await? };
    // One account has one throttle, whether it is named by handle or by email. A name that is
    // nobody's is throttled by what was typed, exactly as an account from an address it does
    // not know, so the answers tell nobody which accounts exist.
    let throttle_key = credentials.as_ref().map_or_else(
        || account.chars().filter(|c| !c.is_control()).collect::<String>().to_lowercase(),
        |c| store::member_key(c.id),
    );
    let client = store::client_key(client);
    // The attempt is recorded before it is counted and before the (slow) password check, so
    // that attempts sent all at once see each other: at most the limit get their password
    // checked. A failure keeps its row; anything else removes it.
    let attempt = store::insert_login_attempt(&state.pool, &throttle_key, &client).await?;
    let member_id = credentials.as_ref().map(|c| c.id);
    let page =
        |error: &str| LogInPage { layout, account: account.clone(), next: next.clone(), error: Some(error.into()) };
    if let Some(until) = store::login_throttled_until(&state.pool, attempt, &throttle_key, member_id, &client).await? {
        store::delete_login_attempt(&state.pool, attempt).await?;
        // The log-in page itself, so the owner of an account that others are guessing at sees
        // the way back in at once: a reset by email forgives every failure.
        let refused = format!(
            "Too many attempts to log in to this account from here: please try again after {} UTC, \
             or choose a new password by email (Forgot your password?), which lets you straight back in.",
            until.format("%H:%M")
        );
        return Ok((StatusCode::TOO_MANY_REQUESTS, retry_after(until), page(&refused)).into_response());
    }
    let stored = credentials.as_ref().map(|c| c.password_hash.clone());
    let matches = password::verify(form.password, stored).await?;
    let Some(credentials) = credentials.filter(|_| matches) else {
        let page = page("That email or handle and password do not match. Check both and try again.");
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    if credentials.status == Status::Suspended {
        store::delete_login_attempt(&state.pool, attempt).await?;
        let page = page("This account is suspended. If you think this is a mistake, write to the Cuppa team.");
        return Ok((StatusCode::FORBIDDEN, page).into_response());
    }
    store::delete_pair_failures(&state.pool, &throttle_key, &client).await?;
    store::upsert_login_address(&state.pool, credentials.id, &client).await?;
    start_session(&session, credentials.id).await?;
    Flash::success("Welcome back!").push(&session).await?;
    Ok(Redirect::to(&next).into_response())
}

async fn log_out(session: Session) -> AppResult<Redirect> {
    // Deletes the row, so the old cookie is worthless even if it was copied.
    session.flush().await?;
    Flash::info("You have logged out. See you soon.").push(&session).await?;
    Ok(Redirect::to("/"))
}

/// Logs `member_id` in under a new session id and CSRF secret, so neither an id nor a token
/// planted before log-in is any use after it.
async fn start_session(session: &Session, member_id: i64) -> Result<(), tower_sessions::session::Error> {
    session.cycle_id().await?;
    // A token someone may have learnt before log-in (the visitor's, from their cookie, or an
    // older session's) must not work after it: the session's own secret, drawn now, is the
    // only one its member's forms are checked against from here on.
    csrf::renew(session).await?;
    let now = Utc::now().timestamp();
    session.insert(MEMBER_KEY, member_id).await?;
    session.insert(AUTH_AT_KEY, now).await?;
    session.insert(SEEN_ON_KEY, now / 86_400).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_forms_never_show_the_password_in_debug_output() {
        let secret = "correct horse battery staple";
        let sign_up = SignUpForm { email: "ada@example.com".into(), password: secret.into(), ..Default::default() };
        let log_in = LogInForm { account: "ada".into(), password: secret.into(), next: "/".into() };
        for shown in [format!("{sign_up:?}"), format!("{log_in:?}"), format!("{sign_up:#?}")] {
            assert!(!shown.contains(secret), "{shown}");
            assert!(shown.contains("<redacted>"), "{shown}");
        }
        assert!(format!("{sign_up:?}").contains("ada@example.com"), "the other fields stay readable");
    }
}
