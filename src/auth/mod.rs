//! Accounts: sign-up, log-in, log-out, password hashing, sessions and the extractors every
//! other domain uses for authorisation. Writes `members` (through the members store) at
//! sign-up, and its own `sessions` and `login_failures`.

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
use chrono::Utc;
use serde::Deserialize;
use tower_sessions::Session;

use crate::AppState;
use crate::error::{AppError, AppResult};
use crate::members::model::{Status, validate_display_name, validate_email, validate_handle};
use crate::members::store::{self as members, NewMember};
use crate::web::routes::Routes;
use crate::web::{ClientAddr, FieldErrors, Flash, Layout, csrf, safe_next};
use extractors::{AUTH_AT_KEY, MEMBER_KEY, SEEN_ON_KEY};
pub use extractors::{Admin, CurrentMember, MaybeMember, Organiser, WARNING_PATH};

pub const MIN_PASSWORD_CHARS: usize = 10;
pub const MAX_PASSWORD_CHARS: usize = 128;

pub fn routes() -> Routes<AppState> {
    Routes::new()
        .get("/signup", sign_up_form)
        .post("/signup", sign_up)
        .get("/login", log_in_form)
        .post("/login", log_in)
        .post("/logout", log_out)
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct SignUpForm {
    pub email: String,
    pub handle: String,
    pub display_name: String,
    pub password: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "auth/signup.html")]
struct SignUpPage {
    layout: Layout,
    form: SignUpForm,
    errors: FieldErrors,
}

async fn sign_up_form(MaybeMember(member): MaybeMember, layout: Layout) -> Response {
    if member.is_some() {
        return Redirect::to("/").into_response();
    }
    SignUpPage { layout, form: SignUpForm::default(), errors: FieldErrors::default() }.into_response()
}

async fn sign_up(
    State(state): State<AppState>,
    session: Session,
    layout: Layout,
    Form(mut form): Form<SignUpForm>,
) -> AppResult<Response> {
    let mut errors = FieldErrors::default();
    let email = validate_email(&form.email, &mut errors);
    let handle = validate_handle(&form.handle, &mut errors);
    let display_name = validate_display_name(&form.display_name, &mut errors);
    let password_chars = form.password.chars().count();
    if password_chars < MIN_PASSWORD_CHARS {
        errors.add("password", format!("Use at least {MIN_PASSWORD_CHARS} characters."));
    } else if password_chars > MAX_PASSWORD_CHARS {
        errors.add("password", format!("Use at most {MAX_PASSWORD_CHARS} characters."));
    }
    if errors.get("email").is_none() && errors.get("handle").is_none() {
        let (email_taken, handle_taken) = members::find_taken(&state.pool, &email, &handle).await?;
        if email_taken {
            errors.add("email", "An account with this email already exists. Log in instead?");
        }
        if handle_taken {
            errors.add("handle", "This handle is taken. Try another.");
        }
    }
    if errors.is_empty() {
        let password_hash = password::hash(std::mem::take(&mut form.password)).await?;
        let new =
            NewMember { email: &email, handle: &handle, display_name: &display_name, password_hash: &password_hash };
        match members::insert_member(&state.pool, &new).await {
            Ok(id) => {
                start_session(&session, id).await?;
                Flash::success("Welcome to Cuppa! Tell people a little about yourself.").push(&session).await?;
                return Ok(Redirect::to("/settings/profile").into_response());
            }
            // Another sign-up took the address or handle between the check and the insert.
            Err(sqlx::Error::Database(db)) if db.constraint() == Some("members_email_key") => {
                errors.add("email", "An account with this email already exists. Log in instead?");
            }
            Err(sqlx::Error::Database(db)) if db.constraint() == Some("members_handle_key") => {
                errors.add("handle", "This handle is taken. Try another.");
            }
            Err(other) => return Err(other.into()),
        }
    }
    form.password.clear();
    Ok((StatusCode::UNPROCESSABLE_ENTITY, SignUpPage { layout, form, errors }).into_response())
}

#[derive(Debug, Default, Deserialize)]
struct NextQuery {
    next: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct LogInForm {
    pub account: String,
    pub password: String,
    #[serde(default)]
    pub next: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "auth/login.html")]
struct LogInPage {
    layout: Layout,
    account: String,
    next: String,
    error: Option<&'static str>,
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
    let credentials = if account.chars().any(char::is_control) {
        None
    } else {
        members::find_credentials(&state.pool, &account).await?
    };
    // One account has one throttle, whether it is named by handle or by email.
    let throttle_key = credentials.as_ref().map_or_else(
        || account.chars().filter(|c| !c.is_control()).collect::<String>().to_lowercase(),
        |c| format!("member:{}", c.id),
    );
    let client = client.to_string();
    // The attempt is recorded before it is counted and before the (slow) password check, so
    // that attempts sent all at once see each other: at most the limit get their password
    // checked. A failure keeps its row; anything else removes it.
    let attempt = store::insert_login_attempt(&state.pool, &throttle_key, &client).await?;
    if let Some(until) = store::throttled_until(&state.pool, &throttle_key, &client).await? {
        store::delete_login_attempt(&state.pool, attempt).await?;
        return Err(AppError::TooManyRequests { until });
    }
    let stored = credentials.as_ref().map(|c| c.password_hash.clone());
    let matches = password::verify(form.password, stored).await?;
    let page = |error| LogInPage { layout, account: account.clone(), next: next.clone(), error: Some(error) };
    let Some(credentials) = credentials.filter(|_| matches) else {
        let page = page("That email or handle and password do not match. Check both and try again.");
        return Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response());
    };
    if credentials.status == Status::Suspended {
        store::delete_login_attempt(&state.pool, attempt).await?;
        let page = page("This account is suspended. If you think this is a mistake, write to the Cuppa team.");
        return Ok((StatusCode::FORBIDDEN, page).into_response());
    }
    store::delete_login_failures(&state.pool, &throttle_key).await?;
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
    // A token someone may have learnt before log-in must not work after it.
    csrf::forget(session).await?;
    let now = Utc::now().timestamp();
    session.insert(MEMBER_KEY, member_id).await?;
    session.insert(AUTH_AT_KEY, now).await?;
    session.insert(SEEN_ON_KEY, now / 86_400).await
}
