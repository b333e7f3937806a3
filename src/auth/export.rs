//! "Download my data": one JSON file of everything Cuppa holds about the member and what they
//! did on it: the profile (with its photo's address) and its settings, availability, follows
//! both ways, blocks, whom they met, invitations sent and received, meetups organised and
//! RSVPs, addresses elsewhere, and notifications.
//!
//! Every other person appears as the site shows them: handle and display name, or "a former
//! member" with no handle once they deleted their account. What is private to the other side
//! stays out: whether they said the member did not come to a coffee, and who blocked the member.
//!
//! The file is read in two statements (availability through the members store, the rest in
//! one), each section aggregated by PostgreSQL into JSON and read back into the structs below,
//! whose shape is the file's.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgExecutor;
use sqlx::types::Json;

use crate::AppState;
use crate::auth::CurrentMember;
use crate::error::AppResult;
use crate::photos::model::Size;

/// The whole file.
#[derive(Debug, Serialize)]
pub struct Export {
    pub exported_at: DateTime<Utc>,
    pub profile: Profile,
    /// Weekly windows, as wall-clock times in the profile's time zone.
    pub availability: Vec<Window>,
    pub follows: Follows,
    /// The people the member blocked.
    pub blocks: Vec<Person>,
    pub met: Vec<Met>,
    pub invitations: Vec<Invitation>,
    pub meetups_organised: Vec<OrganisedMeetup>,
    pub meetup_rsvps: Vec<Rsvp>,
    /// Addresses on other networks the member listed (`name@mastodon.social`).
    pub addresses_elsewhere: Vec<String>,
    pub notifications: Vec<Notification>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Profile {
    pub handle: String,
    pub display_name: String,
    pub email: String,
    pub email_verified: bool,
    pub email_verified_at: Option<DateTime<Utc>>,
    pub bio: String,
    pub city: String,
    pub time_zone: String,
    pub interests: Vec<String>,
    pub role: String,
    /// Who may invite the member to coffee: anyone, following (people they follow), nobody.
    pub invite_policy: String,
    /// Listed in the people directory.
    pub listed: bool,
    /// Taking part in the weekly suggestions.
    pub matching: bool,
    pub created_at: DateTime<Utc>,
    /// The current photo's address on Cuppa (the large size), or none: the initial shows.
    #[serde(default)]
    pub photo: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Window {
    pub day: &'static str,
    pub from: String,
    pub to: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Follows {
    pub following: Vec<Person>,
    pub followers: Vec<Person>,
}

/// Another member, and since when the relation (follow, block) stands.
#[derive(Debug, Serialize, Deserialize)]
pub struct Person {
    /// None for a former member.
    pub handle: Option<String>,
    pub display_name: String,
    pub since: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Met {
    pub handle: Option<String>,
    pub display_name: String,
    pub met_at: DateTime<Utc>,
    /// coffee, meetup or claimed.
    pub how: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Invitation {
    /// sent or received.
    pub direction: String,
    pub other_handle: Option<String>,
    pub other_name: String,
    pub state: String,
    pub venue: String,
    pub proposed_times: Vec<DateTime<Utc>>,
    pub proposed_by_me: bool,
    pub accepted_time: Option<DateTime<Utc>>,
    /// The invitation's note and the closing note (on a decline or cancel), by whoever wrote them.
    pub messages: Vec<Message>,
    /// The member's own answer to "did you meet?" after the coffee (met, no_show).
    pub my_answer: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Message {
    pub by_me: bool,
    pub text: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct OrganisedMeetup {
    pub id: i64,
    pub title: String,
    pub description: String,
    pub venue: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub capacity: i32,
    pub visibility: String,
    pub cancelled_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Rsvp {
    pub meetup_id: i64,
    pub title: String,
    pub venue: String,
    pub starts_at: DateTime<Utc>,
    /// going, waitlisted or cancelled.
    pub status: String,
    /// 1 for the first in line, while waitlisted.
    pub waitlist_position: Option<i64>,
    pub checked_in_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Notification {
    pub kind: String,
    pub text: String,
    pub link: String,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

/// Everything but the availability, in one statement.
struct Sections {
    photo_id: Option<i64>,
    profile: Json<Profile>,
    follows: Json<Follows>,
    blocks: Json<Vec<Person>>,
    met: Json<Vec<Met>>,
    invitations: Json<Vec<Invitation>>,
    meetups_organised: Json<Vec<OrganisedMeetup>>,
    meetup_rsvps: Json<Vec<Rsvp>>,
    addresses_elsewhere: Json<Vec<String>>,
    notifications: Json<Vec<Notification>>,
}

/// Each section is a scalar subquery over its table's member index, aggregated in PostgreSQL:
/// one round trip, and no row is read twice. Another member's handle is hidden once they have
/// deleted their account (`status = 'deleted'`): it is no longer theirs, and later someone
/// else's.
async fn read_sections(db: impl PgExecutor<'_>, member: i64) -> sqlx::Result<Sections> {
    sqlx::query_as!(
        Sections,
        r#"select
             m.photo_id,
             json_build_object(
                 'handle', m.handle, 'display_name', m.display_name,
                 'email', m.email, 'email_verified', m.email_verified_at is not null,
                 'email_verified_at', m.email_verified_at,
                 'bio', m.bio, 'city', m.city, 'time_zone', m.time_zone, 'interests', m.interests,
                 'role', m.role, 'invite_policy', m.invite_policy, 'listed', m.listed, 'matching', m.matching,
                 'created_at', m.created_at
             ) as "profile!: Json<Profile>",
             json_build_object(
                 'following', (select coalesce(json_agg(json_build_object(
                                      'handle', case when o.status <> 'deleted' then o.handle end,
                                      'display_name', o.display_name, 'since', f.created_at)
                                  order by f.created_at), '[]')
                               from follows f join members o on o.id = f.followee_id
                               where f.follower_id = m.id),
                 'followers', (select coalesce(json_agg(json_build_object(
                                      'handle', case when o.status <> 'deleted' then o.handle end,
                                      'display_name', o.display_name, 'since', f.created_at)
                                  order by f.created_at), '[]')
                               from follows f join members o on o.id = f.follower_id
                               where f.followee_id = m.id)
             ) as "follows!: Json<Follows>",
             (select coalesce(json_agg(json_build_object(
                         'handle', case when o.status <> 'deleted' then o.handle end,
                         'display_name', o.display_name, 'since', b.created_at)
                     order by b.created_at), '[]')
              from blocks b join members o on o.id = b.blocked_id
              where b.blocker_id = m.id) as "blocks!: Json<Vec<Person>>",
             (select coalesce(json_agg(json_build_object(
                         'handle', case when o.status <> 'deleted' then o.handle end,
                         'display_name', o.display_name, 'met_at', p.met_at, 'how', p.how)
                     order by p.met_at), '[]')
              from met_pairs p
              join members o on o.id = case when p.a_id = m.id then p.b_id else p.a_id end
              where p.a_id = m.id or p.b_id = m.id) as "met!: Json<Vec<Met>>",
             (select coalesce(json_agg(json_build_object(
                         'direction', case when i.inviter_id = m.id then 'sent' else 'received' end,
                         'other_handle', case when o.status <> 'deleted' then o.handle end,
                         'other_name', o.display_name,
                         'state', i.state,
                         'venue', v.name || ', ' || v.address || ', ' || v.city,
                         'proposed_times', i.proposed_times,
                         'proposed_by_me', i.proposed_by = m.id,
                         'accepted_time', i.accepted_time,
                         'messages', (select coalesce(json_agg(json_build_object('by_me', w.by_me, 'text', w.text)),
                                                      '[]')
                                      from (values (i.inviter_id = m.id, i.note),
                                                   (i.closed_by is not distinct from m.id, i.closing_note))
                                           as w (by_me, text)
                                      where w.text <> ''),
                         -- Only the member's own answer: the other's "they did not come" is
                         -- never shown to the person it is about.
                         'my_answer', case when i.inviter_id = m.id then i.inviter_answer else i.invitee_answer end,
                         'created_at', i.created_at, 'updated_at', i.updated_at)
                     order by i.created_at), '[]')
              from invitations i
              join members o on o.id = case when i.inviter_id = m.id then i.invitee_id else i.inviter_id end
              join venues v on v.id = i.venue_id
              where i.inviter_id = m.id or i.invitee_id = m.id) as "invitations!: Json<Vec<Invitation>>",
             (select coalesce(json_agg(json_build_object(
                         'id', e.id, 'title', e.title, 'description', e.description,
                         'venue', v.name || ', ' || v.city,
                         'starts_at', e.starts_at, 'ends_at', e.ends_at, 'capacity', e.capacity,
                         'visibility', e.visibility, 'cancelled_at', e.cancelled_at)
                     order by e.starts_at), '[]')
              from meetups e join venues v on v.id = e.venue_id
              where e.organiser_id = m.id) as "meetups_organised!: Json<Vec<OrganisedMeetup>>",
             (select coalesce(json_agg(json_build_object(
                         'meetup_id', e.id, 'title', e.title, 'venue', v.name || ', ' || v.city,
                         'starts_at', e.starts_at, 'status', r.status,
                         'waitlist_position', case when r.status = 'waitlisted' then
                             (select count(*) from rsvps w
                              where w.meetup_id = r.meetup_id and w.status = 'waitlisted' and w.arrival <= r.arrival)
                             end,
                         'checked_in_at', r.checked_in_at, 'created_at', r.created_at)
                     order by e.starts_at), '[]')
              from rsvps r
              join meetups e on e.id = r.meetup_id
              join venues v on v.id = e.venue_id
              where r.member_id = m.id) as "meetup_rsvps!: Json<Vec<Rsvp>>",
             (select coalesce(json_agg(a.address order by a.address), '[]')
              from external_addresses a
              where a.member_id = m.id) as "addresses_elsewhere!: Json<Vec<String>>",
             (select coalesce(json_agg(json_build_object(
                         'kind', n.kind, 'text', n.text, 'link', n.link,
                         'created_at', n.created_at, 'read_at', n.read_at)
                     order by n.id), '[]')
              from notifications n
              where n.member_id = m.id) as "notifications!: Json<Vec<Notification>>"
           from members m
           where m.id = $1"#,
        member
    )
    .fetch_one(db)
    .await
}

/// Everything Cuppa holds about member `id`, as of now.
pub async fn export(pool: &sqlx::PgPool, id: i64) -> sqlx::Result<Export> {
    let windows = crate::members::store::list_windows(pool, id).await?;
    let sections = read_sections(pool, id).await?;
    let photo = sections.photo_id.map(|photo| crate::photos::model::url(id, photo, Size::Large));
    Ok(Export {
        exported_at: Utc::now(),
        profile: Profile { photo, ..sections.profile.0 },
        availability: windows
            .into_iter()
            .map(|row| Window { day: row.window.day_name(), from: row.window.from_label(), to: row.window.to_label() })
            .collect(),
        follows: sections.follows.0,
        blocks: sections.blocks.0,
        met: sections.met.0,
        invitations: sections.invitations.0,
        meetups_organised: sections.meetups_organised.0,
        meetup_rsvps: sections.meetup_rsvps.0,
        addresses_elsewhere: sections.addresses_elsewhere.0,
        notifications: sections.notifications.0,
    })
}

/// `GET /settings/account/export`: the file, as a download named after the handle and the
/// member's own date. Never cached: it holds the email address and private messages.
pub(super) async fn download_data(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
) -> AppResult<Response> {
    let export = export(&state.pool, member.id).await?;
    let body = serde_json::to_vec_pretty(&export).map_err(anyhow::Error::from)?;
    let zone = member.time_zone.parse::<chrono_tz::Tz>().unwrap_or(chrono_tz::UTC);
    let day = export.exported_at.with_timezone(&zone).format("%Y-%m-%d");
    // A live handle is letters, digits and underscores only, safe inside the quotes.
    let disposition = format!("attachment; filename=\"cuppa-{}-{day}.json\"", member.handle);
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}
