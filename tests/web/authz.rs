//! The authorisation matrix: every route the router serves (`cuppa::routes().list()`), sent by
//! each of seven personas, against one table of expected statuses written down by hand. A route
//! added without a row, a row left for a route that has gone, and every status that differs
//! from its cell fail the test, all reported together. A second test sends every POST route
//! without a CSRF token.
//!
//! The personas sign up and log in once, in a database that every row then copies, so a row's
//! requests cannot see another row's changes; within a row each persona's request gets objects
//! of its own, so no cell depends on the order of the columns either.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};

use axum::Router;
use axum::body::Body as HttpBody;
use axum::http::{Request, StatusCode, header};
use chrono::{DateTime, Duration, Timelike, Utc};
use chrono_tz::Europe::London;
use cuppa::web::routes::{Method, Route};
use sqlx::PgPool;

use crate::support::{Client, Page, add_venue, copy_of, drop_database, insert_meetup, insert_rsvp, test_state};
use Object::{
    Asset, Attending, CalendarFeed, Case, CheckingIn, Claim, Ended, Invitation, MyReport, Nothing, Notification,
    OwnMeetup, Profile, ProposedVenue, Reportable, Suggestion, Warning, Window,
};
use Side::{Invitee, Inviter};

/// What a persona gets: an HTTP status, or `L`, a 303 to the log-in page (`/login?next=…`).
/// A bare `S303` is a redirect anywhere but the log-in page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Want {
    Status(u16),
    LogIn,
}

const L: Want = Want::LogIn;
const S200: Want = Want::Status(200);
const S303: Want = Want::Status(303);
const S400: Want = Want::Status(400);
const S403: Want = Want::Status(403);
const S404: Want = Want::Status(404);
const S409: Want = Want::Status(409);
const S422: Want = Want::Status(422);

impl fmt::Display for Want {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Want::Status(code) => write!(f, "{code}"),
            Want::LogIn => f.write_str("L"),
        }
    }
}

/// The columns of the table, in this order.
///
/// - `Anonymous`: not logged in (a browser with a session and a CSRF token from the log-in
///   page, so its POSTs reach the handler rather than stopping at the CSRF check).
/// - `Member`: a logged-in plain member with no relation to the object in the path.
/// - `Owner`: the member who owns the object in the path: the profile's own handle; the
///   invitation's inviter or invitee, whichever the row says (the one whose move it is); the
///   meetup's organiser (given the organiser role in that row), or for the RSVP and "I met
///   them" rows the attendee; the window's, claim's (the member it names), notification's,
///   suggestion's and calendar feed's member; the proposer of a venue. For a route without an
///   object, a plain member like `Member`.
/// - `Other`: another plain member, not the owner and a stranger to the object.
/// - `Organiser`: a member with the organiser role, not the owner.
/// - `Admin`: a member with the admin role, not the owner.
/// - `Suspended`: a member suspended after logging in: their next request logs them out, so
///   pages for members send them to log in, and public pages treat them as anonymous.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Persona {
    Anonymous,
    Member,
    Owner,
    Other,
    Organiser,
    Admin,
    Suspended,
}

const PERSONAS: [Persona; 7] = [
    Persona::Anonymous,
    Persona::Member,
    Persona::Owner,
    Persona::Other,
    Persona::Organiser,
    Persona::Admin,
    Persona::Suspended,
];

impl Persona {
    fn name(self) -> &'static str {
        match self {
            Persona::Anonymous => "anonymous",
            Persona::Member => "member",
            Persona::Owner => "owner",
            Persona::Other => "other",
            Persona::Organiser => "organiser",
            Persona::Admin => "admin",
            Persona::Suspended => "suspended",
        }
    }

    fn handle(self) -> &'static str {
        match self {
            Persona::Anonymous => "",
            Persona::Member => "plain_member",
            Persona::Owner => "the_owner",
            Persona::Other => "another_member",
            Persona::Organiser => "an_organiser",
            Persona::Admin => "an_admin",
            Persona::Suspended => "suspended_one",
        }
    }
}

/// Which side of an invitation the owner is on.
#[derive(Clone, Copy, Debug)]
enum Side {
    Inviter,
    Invitee,
}

/// The object a row's path names, made afresh for every persona's request. Each is between
/// the owner and members made for it alone ("a third member"), never another persona.
#[derive(Clone, Copy, Debug)]
enum Object {
    /// Nothing in the path (`{handle}` is still the owner's, for the body).
    Nothing,
    /// `{handle}`: the owner's profile.
    Profile,
    /// `{id}`: one of the owner's availability windows.
    Window,
    /// `{id}`: a pending "we have met" claim by a third member, naming the owner.
    Claim,
    /// `{id}`: a venue the owner proposed, waiting for an admin.
    ProposedVenue,
    /// `{id}`: an invitation in this state between the owner, on this side, and a third
    /// member; `{time}` is its proposed time (Unix seconds), three days ahead (two hours ago
    /// when held).
    Invitation(&'static str, Side),
    /// `{id}`: a meetup five days ahead at the venue, with this visibility, organised by the
    /// owner (who has the organiser role in this row).
    OwnMeetup(&'static str),
    /// `{id}`: a public meetup five days ahead organised by a third member, the owner going.
    Attending,
    /// `{id}`: the owner's public meetup starting in half an hour (check-in is open), a third
    /// member `{attendee}` going.
    CheckingIn,
    /// `{id}`: a public meetup of a third organiser that ended an hour ago, where the owner and
    /// a third member `{met}` were both checked in.
    Ended,
    /// `{id}`: one of the owner's notifications.
    Notification,
    /// `{id}`: an open suggestion of a coffee three days ahead for the owner and a third member.
    Suggestion,
    /// `{file}`: the owner's private calendar feed (`<token>.ics`).
    CalendarFeed,
    /// `{name}`: a static file.
    Asset,
    /// `{kind}/{id}`: the owner's profile, as a report names it (`member/<id>`).
    Reportable,
    /// `{id}`: a report the owner filed about a third member's profile.
    MyReport,
    /// `{id}`: the open case that report opened (the owner is its reporter).
    Case,
    /// `{id}`: a warning to the owner they have not acknowledged yet.
    Warning,
    /// `{secret}`: an open link for this `account_token_purpose` (confirming their own address,
    /// for `verify_email`), of a third member: the secret is the only key, and a reset ends its
    /// member's sessions, which must not be any persona's.
    Link(&'static str),
    /// `{handle}`: the owner, with a new current photo `{photo}`.
    MemberPhoto,
    /// `{handle}`: the owner, whose photos admins removed twice (no uploads until allowed).
    PhotosStopped,
    /// `{id}`: an open case about the owner's current photo, reported by a third member.
    PhotoCase,
    /// `{member}` and `{file}`: the owner and the small size of their new current photo.
    ServedPhoto,
}

/// What a POST sends. Values may hold placeholders: `{who}` (the persona's name), `{venue}`
/// (the approved café), `{local}` and `{local_end}` (10:00 and 12:00 in London five days
/// ahead, as `datetime-local`), and whatever the row's object provides.
#[derive(Clone, Copy, Debug)]
enum Body {
    /// A form; every persona's carries its CSRF token.
    Form(&'static [(&'static str, &'static str)]),
    /// A multipart upload of this text as the file `file`, after the token as the first field
    /// as the page's form sends it.
    Upload(&'static str),
}

struct Row {
    route: Route,
    object: Object,
    body: Body,
    /// Anonymous, member, owner, other, organiser, admin, suspended.
    want: [Want; 7],
}

const fn get(path: &'static str, object: Object, want: [Want; 7]) -> Row {
    Row { route: Route { method: Method::Get, path }, object, body: Body::Form(&[]), want }
}

const fn post(
    path: &'static str,
    object: Object,
    form: &'static [(&'static str, &'static str)],
    want: [Want; 7],
) -> Row {
    Row { route: Route { method: Method::Post, path }, object, body: Body::Form(form), want }
}

const fn upload(path: &'static str, file: &'static str, want: [Want; 7]) -> Row {
    Row { route: Route { method: Method::Post, path }, object: Object::Nothing, body: Body::Upload(file), want }
}

const SIGN_UP: &[(&str, &str)] =
    &[("email", "not-an-address"), ("handle", "{who}"), ("display_name", ""), ("password", "short")];
const LOG_IN: &[(&str, &str)] = &[("account", "nobody_{who}"), ("password", "not the password")];
const NEW_EMAIL: &[(&str, &str)] = &[("email", "new_{who}@example.com"), ("password", crate::support::PASSWORD)];
const NEW_PASSWORD: &[(&str, &str)] =
    &[("current_password", crate::support::PASSWORD), ("new_password", "another sturdy password")];
const FORGOT: &[(&str, &str)] = &[("account", "{handle}")];
const RESET: &[(&str, &str)] = &[("password", "another sturdy password")];
const DELETE: &[(&str, &str)] = &[("password", "not the password")];
const PROFILE: &[(&str, &str)] = &[
    ("display_name", "{who}"),
    ("bio", ""),
    ("city", "London"),
    ("time_zone", "Europe/London"),
    ("interests", "coffee"),
];
const WINDOW: &[(&str, &str)] = &[("weekday", "2"), ("from", "09:00"), ("to", "10:00")];
const PRIVACY: &[(&str, &str)] = &[("invite_policy", "anyone"), ("listed", "on"), ("matching", "on")];
const FOLLOWS: &str = "Account address,Show boosts\nsomeone@example.social,true\n";
const NOT_A_PHOTO: &str = "Account address,Show boosts\n";
const VENUE: &[(&str, &str)] =
    &[("name", "Matrix café {who}"), ("address", "1 High Street"), ("city", "London"), ("time_zone", "Europe/London")];
const INVITE: &[(&str, &str)] = &[("venue_id", "{venue}"), ("time1", "{local}"), ("note", "")];
const ACCEPT: &[(&str, &str)] = &[("seen", "pending"), ("time", "{time}")];
const CLOSE: &[(&str, &str)] = &[("seen", "pending"), ("note", "")];
const COUNTER: &[(&str, &str)] = &[("seen", "pending"), ("time1", "{local}")];
const MET: &[(&str, &str)] = &[("answer", "met")];
const MEETUP: &[(&str, &str)] = &[
    ("title", "Matrix meetup"),
    ("description", ""),
    ("venue_id", "{venue}"),
    ("starts_at", "{local}"),
    ("ends_at", "{local_end}"),
    ("capacity", "12"),
    ("visibility", "public"),
    ("rsvp_deadline", ""),
    ("repeat", ""),
];
const ANNOUNCE: &[(&str, &str)] = &[("text", "See you there")];
const CHECK_IN: &[(&str, &str)] = &[("member", "{attendee}"), ("checked_in", "on")];
const TICK: &[(&str, &str)] = &[("other", "{met}")];
const EMAILS: &[(&str, &str)] = &[("invitation_received", "on")];
const DRY_RUN: &[(&str, &str)] = &[("dry_run", "on")];
const REPORT: &[(&str, &str)] = &[("category", "spam"), ("details", "Sells things.")];
const NOTE: &[(&str, &str)] = &[("body", "Looked into it.")];
const OUTCOME: &[(&str, &str)] = &[("outcome", "Handled.")];
const WARN: &[(&str, &str)] = &[("action", "warn"), ("reason", "Be kind.")];
const ROLE: &[(&str, &str)] = &[("role", "organiser"), ("role_reason", "Runs meetups.")];
const ACKNOWLEDGE: &[(&str, &str)] = &[("last", "{id}")];
const REMOVE_PHOTO: &[(&str, &str)] = &[("photo", "{photo}"), ("photo_reason", "Not a photo of them.")];
const PHOTO_REASON: &[(&str, &str)] = &[("photo_reason", "Not a photo of them.")];
const ALLOW_PHOTOS: &[(&str, &str)] = &[("allow_reason", "A mix-up.")];

/// Pages for members only: the log-in page for anyone logged out, 200 for every member.
const MEMBERS_200: [Want; 7] = [L, S200, S200, S200, S200, S200, L];
/// Changes any member may make to their own things: 303 for each.
const MEMBERS_303: [Want; 7] = [L, S303, S303, S303, S303, S303, L];
/// Admins' pages.
const ADMIN_200: [Want; 7] = [L, S403, S403, S403, S403, S200, L];
/// Admins' actions.
const ADMIN_303: [Want; 7] = [L, S403, S403, S403, S403, S303, L];
/// A move only the owner may make: strangers are refused.
const OWNER_303: [Want; 7] = [L, S403, S303, S403, S403, S403, L];
/// A page or change of the owner's own, which strangers cannot tell exists.
const OWNER_ONLY: [Want; 7] = [L, S404, S303, S404, S404, S404, L];
/// What a meetup's organiser (or an admin) may do, and nobody else.
const MANAGER_303: [Want; 7] = [L, S403, S303, S403, S403, S303, L];
/// Open to everyone, logged in or not.
const ALL_200: [Want; 7] = [S200; 7];

/// The table: one row per route the router serves.
#[rustfmt::skip]
const MATRIX: &[Row] = &[
    // auth                                                    anon  member owner other  organ  admin  susp
    get("/signup", Nothing,                                   [S200, S303, S303, S303, S303, S303, S200]),
    post("/signup", Nothing, SIGN_UP,                         [S422, S303, S303, S303, S303, S303, S422]),
    get("/login", Nothing,                                    [S200, S303, S303, S303, S303, S303, S200]),
    post("/login", Nothing, LOG_IN,                           [S422; 7]),
    post("/logout", Nothing, &[],                             [S303; 7]),
    // account: links from emails work logged in or out. Confirming sends the link's member to
    // their settings (none of the personas here), anyone else logged in home, and the
    // logged-out to log in.
    get("/verify-email/{secret}", Object::Link("verify_email"), ALL_200),
    post("/verify-email/{secret}", Object::Link("verify_email"), &[], [L, S303, S303, S303, S303, S303, L]),
    get("/settings/account", Nothing,                         MEMBERS_200),
    post("/settings/account/verify", Nothing, &[],            MEMBERS_303),
    post("/settings/account/email", Nothing, NEW_EMAIL,       MEMBERS_303),
    post("/settings/account/password", Nothing, NEW_PASSWORD, MEMBERS_303),
    get("/password/forgot", Nothing,                          ALL_200),
    post("/password/forgot", Nothing, FORGOT,                 [S303; 7]),
    get("/password/reset/{secret}", Object::Link("reset_password"), ALL_200),
    // Everyone is sent to log in with the new password.
    post("/password/reset/{secret}", Object::Link("reset_password"), RESET, [L; 7]),
    get("/settings/account/export", Nothing,                  MEMBERS_200),
    get("/settings/account/delete", Nothing,                  MEMBERS_200),
    // A wrong password: nothing is deleted, and the form comes back.
    post("/settings/account/delete", Nothing, DELETE,         [L, S422, S422, S422, S422, S422, L]),
    // members
    get("/", Nothing,                                         ALL_200),
    get("/m/{handle}", Profile,                               MEMBERS_200),
    get("/people", Nothing,                                   MEMBERS_200),
    // A bare redirect to /settings/profile, which asks for the log-in.
    get("/settings", Nothing,                                 [S303; 7]),
    get("/settings/profile", Nothing,                         MEMBERS_200),
    post("/settings/profile", Nothing, PROFILE,               MEMBERS_303),
    get("/settings/availability", Nothing,                    MEMBERS_200),
    post("/settings/availability", Nothing, WINDOW,           MEMBERS_303),
    post("/settings/availability/{id}/delete", Window, &[],   OWNER_ONLY),
    get("/settings/privacy", Nothing,                         MEMBERS_200),
    post("/settings/privacy", Nothing, PRIVACY,               MEMBERS_303),
    // photos: a text file is no photo. Anyone may see an active member's photo.
    get("/settings/photo", Nothing,                           MEMBERS_200),
    upload("/settings/photo", NOT_A_PHOTO,                    [L, S422, S422, S422, S422, S422, L]),
    post("/settings/photo/remove", Nothing, &[],              MEMBERS_303),
    // A photo is a file, not a page: no log-in redirect, the same 404 as a missing one.
    get("/photos/{member}/{file}", Object::ServedPhoto,       [S404, S200, S200, S200, S200, S200, S404]),
    get("/admin/photos/{file}", Object::ServedPhoto,          ADMIN_200),
    // social
    post("/m/{handle}/follow", Profile, &[],                  [L, S303, S400, S303, S303, S303, L]),
    post("/m/{handle}/unfollow", Profile, &[],                MEMBERS_303),
    post("/m/{handle}/block", Profile, &[],                   [L, S303, S400, S303, S303, S303, L]),
    post("/m/{handle}/unblock", Profile, &[],                 MEMBERS_303),
    get("/m/{handle}/followers", Profile,                     MEMBERS_200),
    get("/m/{handle}/following", Profile,                     MEMBERS_200),
    get("/settings/blocked", Nothing,                         MEMBERS_200),
    get("/settings/import", Nothing,                          MEMBERS_200),
    upload("/settings/import", FOLLOWS,                       MEMBERS_303),
    post("/m/{handle}/met", Profile, &[],                     [L, S303, S400, S303, S303, S303, L]),
    post("/met-claims/{id}/confirm", Claim, &[],              OWNER_303),
    post("/met-claims/{id}/decline", Claim, &[],              OWNER_303),
    // venues
    get("/venues", Nothing,                                   MEMBERS_200),
    get("/venues/new", Nothing,                               MEMBERS_200),
    post("/venues/new", Nothing, VENUE,                       MEMBERS_303),
    get("/admin/venues", Nothing,                             ADMIN_200),
    post("/admin/venues/{id}/approve", ProposedVenue, &[],    ADMIN_303),
    post("/admin/venues/{id}/reject", ProposedVenue, &[],     ADMIN_303),
    // invitations
    get("/m/{handle}/invite", Profile,                        [L, S200, S400, S200, S200, S200, L]),
    post("/m/{handle}/invite", Profile, INVITE,               [L, S303, S400, S303, S303, S303, L]),
    get("/invitations", Nothing,                              MEMBERS_200),
    get("/invitations/{id}", Invitation("pending", Inviter),  [L, S404, S200, S404, S404, S404, L]),
    post("/invitations/{id}/accept", Invitation("pending", Invitee), ACCEPT, OWNER_303),
    post("/invitations/{id}/decline", Invitation("pending", Invitee), CLOSE, OWNER_303),
    post("/invitations/{id}/counter", Invitation("pending", Invitee), COUNTER, OWNER_303),
    post("/invitations/{id}/cancel", Invitation("pending", Inviter), CLOSE, OWNER_303),
    post("/invitations/{id}/met", Invitation("held", Inviter), MET, OWNER_303),
    get("/admin/no-shows", Nothing,                           ADMIN_200),
    // meetups
    get("/meetups", Nothing,                                  ALL_200),
    get("/meetups/new", Nothing,                              [L, S403, S403, S403, S200, S200, L]),
    post("/meetups/new", Nothing, MEETUP,                     [L, S403, S403, S403, S303, S303, L]),
    // Followers only, and the owner has no followers: only the organiser and admins see it.
    get("/meetups/{id}", OwnMeetup("followers"),              [L, S404, S200, S404, S404, S200, L]),
    get("/meetups/{id}/edit", OwnMeetup("public"),            [L, S403, S200, S403, S403, S200, L]),
    post("/meetups/{id}/edit", OwnMeetup("public"), MEETUP,   MANAGER_303),
    post("/meetups/{id}/cancel", OwnMeetup("public"), &[],    MANAGER_303),
    post("/meetups/{id}/rsvp", OwnMeetup("public"), &[],      [L, S303, S409, S303, S303, S303, L]),
    post("/meetups/{id}/rsvp/cancel", Attending, &[],         [L, S409, S303, S409, S409, S409, L]),
    post("/meetups/{id}/invite-followers", OwnMeetup("public"), &[], MANAGER_303),
    post("/meetups/{id}/announce", OwnMeetup("public"), ANNOUNCE, MANAGER_303),
    post("/meetups/{id}/check-in", CheckingIn, CHECK_IN,      MANAGER_303),
    post("/meetups/{id}/met", Ended, TICK,                    [L, S409, S303, S409, S409, S409, L]),
    get("/organise", Nothing,                                 [L, S403, S403, S403, S200, S200, L]),
    // feeds
    get("/invitations/{id}/calendar.ics", Invitation("accepted", Inviter), [L, S404, S200, S404, S404, S404, L]),
    get("/meetups/{id}/calendar.ics", OwnMeetup("followers"), [L, S404, S200, S404, S404, S200, L]),
    get("/meetups.atom", Nothing,                             ALL_200),
    // The token is the key: no session is read.
    get("/calendar/{file}", CalendarFeed,                     ALL_200),
    get("/settings/calendar", Nothing,                        MEMBERS_200),
    post("/settings/calendar/reset", Nothing, &[],            MEMBERS_303),
    // notify
    get("/notifications", Nothing,                            MEMBERS_200),
    post("/notifications/read-all", Nothing, &[],             MEMBERS_303),
    post("/notifications/{id}/read", Notification, &[],       OWNER_ONLY),
    get("/settings/notifications", Nothing,                   MEMBERS_200),
    post("/settings/notifications", Nothing, EMAILS,          MEMBERS_303),
    // scheduler
    get("/suggestions", Nothing,                              MEMBERS_200),
    post("/suggestions/pause", Nothing, &[],                  MEMBERS_303),
    post("/suggestions/resume", Nothing, &[],                 MEMBERS_303),
    post("/suggestions/{id}/accept", Suggestion, &[],         OWNER_ONLY),
    post("/suggestions/{id}/decline", Suggestion, &[],        OWNER_ONLY),
    get("/admin/scheduler", Nothing,                          ADMIN_200),
    post("/admin/scheduler/run", Nothing, DRY_RUN,            ADMIN_303),
    // moderation: reports
    get("/report/{kind}/{id}", Reportable,                    [L, S200, S409, S200, S200, S200, L]),
    post("/report/{kind}/{id}", Reportable, REPORT,           [L, S303, S409, S303, S303, S303, L]),
    get("/settings/reports", Nothing,                         MEMBERS_200),
    get("/settings/reports/{id}", MyReport,                   [L, S404, S200, S404, S404, S404, L]),
    get("/admin/reports", Nothing,                            ADMIN_200),
    get("/admin/reports/{id}", Case,                          ADMIN_200),
    post("/admin/reports/{id}/notes", Case, NOTE,             ADMIN_303),
    post("/admin/reports/{id}/resolve", Case, OUTCOME,        ADMIN_303),
    post("/admin/reports/{id}/dismiss", Case, OUTCOME,        ADMIN_303),
    post("/admin/reports/{id}/remove-photo", Object::PhotoCase, PHOTO_REASON, ADMIN_303),
    // moderation: the admin area (the owner is the member the page is about)
    get("/admin", Nothing,                                    ADMIN_200),
    get("/admin/members", Nothing,                            ADMIN_200),
    get("/admin/members/{handle}", Profile,                   ADMIN_200),
    post("/admin/members/{handle}/action", Profile, WARN,     ADMIN_303),
    post("/admin/members/{handle}/role", Profile, ROLE,       ADMIN_303),
    post("/admin/members/{handle}/photo/remove", Object::MemberPhoto, REMOVE_PHOTO, ADMIN_303),
    post("/admin/members/{handle}/photo/allow", Object::PhotosStopped, ALLOW_PHOTOS, ADMIN_303),
    get("/admin/audit", Nothing,                              ADMIN_200),
    // moderation: warnings; without one to read, the page sends the member home.
    get("/warning", Warning,                                  [L, S303, S200, S303, S303, S303, L]),
    post("/warning/acknowledge", Warning, ACKNOWLEDGE,        MEMBERS_303),
    // the rest
    get("/healthz", Nothing,                                  ALL_200),
    get("/static/{name}", Asset,                              ALL_200),
];

/// A persona as the scene left them: logged in (or not) with a session of their own.
#[derive(Clone, Debug)]
struct Visitor {
    id: i64,
    cookies: HashMap<String, String>,
    csrf: String,
}

/// The prepared database every row copies, and who is in it.
struct Scene {
    template: String,
    visitors: HashMap<Persona, Visitor>,
    venue: i64,
}

impl Scene {
    fn id(&self, persona: Persona) -> i64 {
        self.visitors[&persona].id
    }
}

/// The scene, prepared once for both tests.
async fn shared_scene() -> &'static Scene {
    static SCENE: tokio::sync::OnceCell<Scene> = tokio::sync::OnceCell::const_new();
    SCENE.get_or_init(scene).await
}

/// Signs the personas up (one password hash each) and keeps their sessions.
async fn scene() -> Scene {
    let site = Client::new().await;
    let pool = site.pool.clone();
    let venue = add_venue(&pool, "Café Matrix", "London").await;
    let mut visitors = HashMap::new();
    for persona in PERSONAS {
        let mut client = site.another();
        let id = if persona == Persona::Anonymous {
            client.get("/login").await;
            0
        } else {
            let id = client.sign_up(persona.handle()).await;
            // A token for the logged-in session.
            client.get("/settings/profile").await;
            id
        };
        let csrf = client.csrf.clone().expect("a page with a form gives a token");
        visitors.insert(persona, Visitor { id, cookies: client.cookies.clone(), csrf });
    }
    let ids = |p: Persona| visitors[&p].id;
    sqlx::query("update members set city = 'London', time_zone = 'Europe/London'").execute(&pool).await.unwrap();
    for (persona, role) in [(Persona::Organiser, "organiser"), (Persona::Admin, "admin")] {
        sqlx::query("update members set role = $2::member_role where id = $1")
            .bind(ids(persona))
            .bind(role)
            .execute(&pool)
            .await
            .unwrap();
    }
    // Suspended after logging in: the session is still there, and the next request ends it.
    sqlx::query("update members set status = 'suspended' where id = $1")
        .bind(ids(Persona::Suspended))
        .execute(&pool)
        .await
        .unwrap();
    let template: String = sqlx::query_scalar("select current_database()").fetch_one(&pool).await.unwrap();
    pool.close().await;
    Scene { template, visitors, venue }
}

static NEXT_THIRD: AtomicU32 = AtomicU32::new(0);

/// A member made for one object alone, in London, who never logs in.
async fn third_member(db: &PgPool, role: &str) -> i64 {
    let n = NEXT_THIRD.fetch_add(1, Ordering::SeqCst);
    sqlx::query_scalar(
        "insert into members (email, handle, display_name, password_hash, city, time_zone, role)
         values ($1 || '@example.com', $1, $1, 'never used', 'London', 'Europe/London', $2::member_role)
         returning id",
    )
    .bind(format!("third_{n}"))
    .bind(role)
    .fetch_one(db)
    .await
    .unwrap()
}

/// A time `delta` from now, to the second (forms send times as whole seconds).
fn at(delta: Duration) -> DateTime<Utc> {
    (Utc::now() + delta).with_nanosecond(0).unwrap()
}

/// A `datetime-local` value `days` from today at `hour` o'clock in London.
fn local_in(days: i64, hour: u32) -> String {
    let day = (Utc::now() + Duration::days(days)).with_timezone(&London).date_naive();
    format!("{}T{hour:02}:00", day.format("%Y-%m-%d"))
}

/// Makes the row's object for one request; gives every placeholder's value.
async fn make(object: Object, db: &PgPool, scene: &Scene, persona: Persona) -> HashMap<&'static str, String> {
    let owner = scene.id(Persona::Owner);
    let mut values = HashMap::from([
        ("who", persona.name().to_owned()),
        ("handle", Persona::Owner.handle().to_owned()),
        ("venue", scene.venue.to_string()),
        ("local", local_in(5, 10)),
        ("local_end", local_in(5, 12)),
    ]);
    let one = |sql: &'static str| sqlx::query_scalar::<sqlx::Postgres, i64>(sql);
    let id = match object {
        Nothing | Profile => None,
        Window => Some(
            one("insert into availability (member_id, weekday, start_minute, end_minute)
                 values ($1, 1, 540, 600) returning id")
            .bind(owner)
            .fetch_one(db)
            .await
            .unwrap(),
        ),
        Claim => {
            let claimant = third_member(db, "member").await;
            Some(
                one("insert into met_claims (claimant_id, other_id) values ($1, $2) returning id")
                    .bind(claimant)
                    .bind(owner)
                    .fetch_one(db)
                    .await
                    .unwrap(),
            )
        }
        ProposedVenue => {
            let n = NEXT_THIRD.fetch_add(1, Ordering::SeqCst);
            Some(
                one("insert into venues (name, address, city, time_zone, proposed_by)
                     values ('Proposed ' || $1, '2 Low Road', 'London', 'Europe/London', $2) returning id")
                .bind(n.to_string())
                .bind(owner)
                .fetch_one(db)
                .await
                .unwrap(),
            )
        }
        Invitation(state, side) => {
            let third = third_member(db, "member").await;
            let (inviter, invitee) = match side {
                Side::Inviter => (owner, third),
                Side::Invitee => (third, owner),
            };
            let time = if state == "held" { at(-Duration::hours(2)) } else { at(Duration::days(3)) };
            values.insert("time", time.timestamp().to_string());
            Some(
                one("insert into invitations
                         (inviter_id, invitee_id, venue_id, state, proposed_times, accepted_time, proposed_by)
                     values ($1, $2, $3, $4::invitation_state, array[$5::timestamptz],
                             case when $4 in ('accepted', 'held') then $5::timestamptz end, $1)
                     returning id")
                .bind(inviter)
                .bind(invitee)
                .bind(scene.venue)
                .bind(state)
                .bind(time)
                .fetch_one(db)
                .await
                .unwrap(),
            )
        }
        OwnMeetup(visibility) => {
            sqlx::query("update members set role = 'organiser' where id = $1").bind(owner).execute(db).await.unwrap();
            Some(insert_meetup(db, owner, scene.venue, at(Duration::days(5)), visibility).await)
        }
        Attending => {
            let organiser = third_member(db, "organiser").await;
            let meetup = insert_meetup(db, organiser, scene.venue, at(Duration::days(5)), "public").await;
            insert_rsvp(db, meetup, owner, false).await;
            Some(meetup)
        }
        CheckingIn => {
            sqlx::query("update members set role = 'organiser' where id = $1").bind(owner).execute(db).await.unwrap();
            let meetup = insert_meetup(db, owner, scene.venue, at(Duration::minutes(30)), "public").await;
            let attendee = third_member(db, "member").await;
            insert_rsvp(db, meetup, attendee, false).await;
            values.insert("attendee", attendee.to_string());
            Some(meetup)
        }
        Ended => {
            let organiser = third_member(db, "organiser").await;
            let meetup = insert_meetup(db, organiser, scene.venue, at(-Duration::hours(3)), "public").await;
            let met = third_member(db, "member").await;
            insert_rsvp(db, meetup, owner, true).await;
            insert_rsvp(db, meetup, met, true).await;
            values.insert("met", met.to_string());
            Some(meetup)
        }
        Notification => Some(
            one("insert into notifications (member_id, kind, text, link)
                 values ($1, 'invitation_received', 'Someone invited you.', '/invitations') returning id")
            .bind(owner)
            .fetch_one(db)
            .await
            .unwrap(),
        ),
        Suggestion => {
            let third = third_member(db, "member").await;
            let n = NEXT_THIRD.fetch_add(1, Ordering::SeqCst);
            // A round of its own (one a period), long ago.
            let round = one("insert into scheduler_rounds (period, started_at, members_considered, members_matchable,
                     candidate_pairs, pairs_made, total_weight, load_ms, score_ms, match_ms, write_ms)
                 values (date '2000-01-03' + 7 * $1, now(), 2, 2, 1, 1, 100, 0, 0, 0, 0) returning id")
            .bind(i32::try_from(n).unwrap())
            .fetch_one(db)
            .await
            .unwrap();
            Some(
                one("insert into suggestions (round_id, a_id, b_id, venue_id, starts_at, weight, a_follows_b, b_follows_a)
                     values ($1, least($2, $3), greatest($2, $3), $4, $5, 100, false, false) returning id")
                .bind(round)
                .bind(owner)
                .bind(third)
                .bind(scene.venue)
                .bind(at(Duration::days(3)))
                .fetch_one(db)
                .await
                .unwrap(),
            )
        }
        CalendarFeed => {
            let token: String = sqlx::query_scalar("select calendar_token from members where id = $1")
                .bind(owner)
                .fetch_one(db)
                .await
                .unwrap();
            values.insert("file", format!("{token}.ics"));
            None
        }
        Asset => {
            values.insert("name", "cuppa.css".to_owned());
            None
        }
        Reportable => {
            values.insert("kind", "member".to_owned());
            Some(owner)
        }
        MyReport | Case => {
            let subject = third_member(db, "member").await;
            let (case, report): (i64, i64) = sqlx::query_as(
                "with opened as (
                     insert into moderation_cases (target_kind, target_id, subject_id)
                     values ('member', $1, $1) returning id
                 )
                 insert into reports (case_id, reporter_id, category, details)
                 select id, $2, 'spam', 'Sells things.' from opened
                 returning case_id, id",
            )
            .bind(subject)
            .bind(owner)
            .fetch_one(db)
            .await
            .unwrap();
            Some(if matches!(object, Case) { case } else { report })
        }
        Warning => Some(
            one("insert into member_warnings (member_id, message) values ($1, 'Be kind.') returning id")
                .bind(owner)
                .fetch_one(db)
                .await
                .unwrap(),
        ),
        Object::MemberPhoto => {
            values.insert("photo", crate::support::give_photo_row(db, owner).await.to_string());
            None
        }
        Object::ServedPhoto => {
            let photo = crate::support::give_photo_row(db, owner).await;
            values.insert("member", owner.to_string());
            values.insert("file", format!("{photo}-96.jpg"));
            None
        }
        Object::PhotosStopped => {
            sqlx::query("update members set photo_removals = 2 where id = $1").bind(owner).execute(db).await.unwrap();
            None
        }
        Object::PhotoCase => {
            let photo = crate::support::give_photo_row(db, owner).await;
            let reporter = third_member(db, "member").await;
            Some(
                one("with opened as (
                         insert into moderation_cases (target_kind, target_id, subject_id)
                         values ('photo', $1, $2) returning id
                     )
                     insert into reports (case_id, reporter_id, category, details)
                     select id, $3, 'impersonation', '' from opened
                     returning case_id")
                .bind(photo)
                .bind(owner)
                .bind(reporter)
                .fetch_one(db)
                .await
                .unwrap(),
            )
        }
        Object::Link(purpose) => {
            let third = third_member(db, "member").await;
            let secret = format!("{:064x}", NEXT_THIRD.fetch_add(1, Ordering::SeqCst));
            sqlx::query(
                "insert into account_tokens (member_id, purpose, secret_hash, email, expires_at)
                 select id, $2::account_token_purpose, sha256(convert_to($3, 'UTF8')), email, now() + interval '1 hour'
                 from members where id = $1",
            )
            .bind(third)
            .bind(purpose)
            .bind(&secret)
            .execute(db)
            .await
            .unwrap();
            values.insert("secret", secret);
            None
        }
    };
    if let Some(id) = id {
        values.insert("id", id.to_string());
    }
    values
}

/// The `{key}`s in a route's path.
fn placeholders(path: &'static str) -> Vec<&'static str> {
    path.split('{').skip(1).filter_map(|part| part.split_once('}')).map(|(key, _)| key).collect()
}

/// `text` with every `{key}` replaced by its value; a key without one is a mistake in the table.
fn fill(text: &str, values: &HashMap<&'static str, String>) -> String {
    let mut filled = String::new();
    let mut rest = text;
    while let Some((before, after)) = rest.split_once('{') {
        let (key, after) = after.split_once('}').expect("a placeholder is closed");
        let value = values.get(key).unwrap_or_else(|| panic!("no value for {{{key}}} in {text}"));
        filled.push_str(before);
        filled.push_str(value);
        rest = after;
    }
    filled.push_str(rest);
    filled
}

fn router_for(pool: &PgPool) -> Router {
    cuppa::app(test_state(pool.clone()))
}

/// A multipart upload of `text` as the file `file`, after the token when there is one.
fn multipart(path: &str, text: &str, token: Option<&str>) -> Request<HttpBody> {
    let boundary = "cuppa-matrix-boundary";
    let token = token.map_or(String::new(), |token| {
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n\r\n{token}\r\n")
    });
    let body = format!(
        "{token}--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"following_accounts.csv\"\r\n\
         Content-Type: text/csv\r\n\r\n{text}\r\n--{boundary}--\r\n"
    );
    Request::post(path)
        .header(header::CONTENT_TYPE, format!("multipart/form-data; boundary={boundary}"))
        .body(HttpBody::from(body))
        .expect("request")
}

/// Sends the row's request as `visitor`, with their CSRF token or without one.
async fn send(client: &mut Client, row: &Row, values: &HashMap<&'static str, String>, token: Option<&str>) -> Page {
    let path = fill(row.route.path, values);
    match (row.route.method, row.body) {
        (Method::Get, _) => client.get(&path).await,
        (Method::Post, Body::Form(form)) => {
            let mut fields: Vec<(String, String)> =
                form.iter().map(|(k, v)| ((*k).to_owned(), fill(v, values))).collect();
            if let Some(token) = token {
                fields.insert(0, ("csrf_token".to_owned(), token.to_owned()));
            }
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            client.post_raw(&path, &fields).await
        }
        (Method::Post, Body::Upload(text)) => client.send(multipart(&path, text, token)).await,
    }
}

/// What the visitor got, in the table's terms.
fn outcome(page: &Page) -> Want {
    if page.status == StatusCode::SEE_OTHER && page.location().starts_with("/login") {
        Want::LogIn
    } else {
        Want::Status(page.status.as_u16())
    }
}

/// A few words on what came back, for the report.
fn describe(page: &Page) -> String {
    if page.status.is_redirection() {
        return format!("→ {}", page.location());
    }
    let message = page.text(".error-page h1 + p");
    let message = if message.is_empty() { page.text(".field-error") } else { message };
    message.chars().take(90).collect()
}

struct Mismatch {
    route: Route,
    persona: Persona,
    want: Want,
    got: Want,
    detail: String,
}

fn client_for(pool: &PgPool, router: &Router, visitor: &Visitor) -> Client {
    let mut client = Client::with_router(pool.clone(), router.clone());
    client.cookies = visitor.cookies.clone();
    client
}

/// One row on a copy of the scene: each persona's request, on objects of its own.
async fn run_row(scene: &'static Scene, row: &'static Row) -> Vec<Mismatch> {
    let pool = copy_of(&scene.template).await;
    let router = router_for(&pool);
    let mut mismatches = Vec::new();
    for (persona, want) in PERSONAS.into_iter().zip(row.want) {
        let values = make(row.object, &pool, scene, persona).await;
        let visitor = &scene.visitors[&persona];
        let mut client = client_for(&pool, &router, visitor);
        let page = send(&mut client, row, &values, Some(&visitor.csrf)).await;
        let got = outcome(&page);
        if got != want {
            mismatches.push(Mismatch { route: row.route, persona, want, got, detail: describe(&page) });
        }
    }
    drop_database(pool).await;
    mismatches
}

fn route_label(route: &Route) -> String {
    format!("{} {}", route.method.as_str(), route.path)
}

/// Routes served without a row, and rows for routes no longer served.
fn coverage() -> (Vec<Route>, Vec<Route>, Vec<Route>) {
    let served: BTreeSet<Route> = cuppa::routes().list().iter().copied().collect();
    let mut rows = BTreeSet::new();
    let mut twice = Vec::new();
    for row in MATRIX {
        if !rows.insert(row.route) {
            twice.push(row.route);
        }
    }
    let missing = served.difference(&rows).copied().collect();
    let stale = rows.difference(&served).copied().collect();
    (missing, stale, twice)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_answers_every_persona_as_the_matrix_says() {
    let (missing, stale, twice) = coverage();
    let served: BTreeSet<Route> = cuppa::routes().list().iter().copied().collect();
    let scene = shared_scene().await;

    // A few rows at a time: each has a database of its own.
    let permits = std::sync::Arc::new(tokio::sync::Semaphore::new(3));
    let mut tasks = tokio::task::JoinSet::new();
    for row in MATRIX.iter().filter(|row| served.contains(&row.route)) {
        let permits = permits.clone();
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await.expect("semaphore open");
            run_row(scene, row).await
        });
    }
    let mut mismatches = Vec::new();
    while let Some(done) = tasks.join_next().await {
        mismatches.extend(done.expect("a row's task finished"));
    }
    mismatches.sort_by_key(|m| (m.route, PERSONAS.iter().position(|p| *p == m.persona)));

    let mut report = String::new();
    for route in &missing {
        report.push_str(&format!("  no row for {}: add one to MATRIX\n", route_label(route)));
    }
    for route in &stale {
        report.push_str(&format!("  a row for {}, which the router no longer serves\n", route_label(route)));
    }
    for route in &twice {
        report.push_str(&format!("  two rows for {}\n", route_label(route)));
    }
    if !mismatches.is_empty() {
        report.push_str(&format!("  {:<46} {:<10} {:>8} {:>4}  detail\n", "route", "persona", "expected", "got"));
        for m in &mismatches {
            report.push_str(&format!(
                "  {:<46} {:<10} {:>8} {:>4}  {}\n",
                route_label(&m.route),
                m.persona.name(),
                m.want.to_string(),
                m.got.to_string(),
                m.detail
            ));
        }
    }
    assert!(report.is_empty(), "the authorisation matrix does not hold (L = 303 to /login):\n{report}");
}

#[tokio::test]
async fn every_post_route_without_a_csrf_token_is_refused() {
    let scene = shared_scene().await;
    let pool = copy_of(&scene.template).await;
    let router = router_for(&pool);
    let member = &scene.visitors[&Persona::Member];
    let rows: HashMap<Route, &Row> = MATRIX.iter().map(|row| (row.route, row)).collect();
    let mut accepted = Vec::new();
    for route in cuppa::routes().list().iter().filter(|r| r.method == Method::Post) {
        // The row's body (any object will do: the request must not get as far as the handler).
        let fallback = Row { route: *route, object: Object::Nothing, body: Body::Form(&[]), want: [S403; 7] };
        let row = rows.get(route).copied().unwrap_or(&fallback);
        let mut values = make(row.object, &pool, scene, Persona::Member).await;
        // Routes without a row yet: any value will do, as the handler must never run.
        for key in placeholders(route.path) {
            values.entry(key).or_insert_with(|| "1".to_owned());
        }
        let mut client = client_for(&pool, &router, member);
        let page = send(&mut client, row, &values, None).await;
        let refused_by_csrf = page.status == StatusCode::FORBIDDEN && page.body.contains("did not come from Cuppa");
        if !refused_by_csrf {
            accepted.push(format!("  {:<46} {} {}", route_label(route), page.status.as_u16(), describe(&page)));
        }
    }
    drop_database(pool).await;
    assert!(accepted.is_empty(), "POST routes that did not refuse a form without a token:\n{}", accepted.join("\n"));
}
