//! The home page at `/`: the landing page for visitors, and for a member what wants their
//! attention (claims to answer, suggestions, coffees, meetups) and who they have not met yet.
//! It gathers from every domain's tables through its own read (`store::load`) and the
//! invitations' store, and imports no other domain's pages. Writes nothing.

pub mod store;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::auth::MaybeMember;
use crate::error::AppResult;
use crate::invitations::model::{Invitation, local_label};
use crate::photos::model::Size;
use crate::social::store::NEVER_MET_POOL;
use crate::web::Layout;
use crate::web::bidi::isolate;
use crate::web::routes::Routes;
use store::{ClaimForMe, Limits, MissedMeetup, MyMeetup, NeverMet, OpenSuggestion};

pub fn routes() -> Routes<AppState> {
    Routes::new().get("/", show_home)
}

#[derive(Template, WebTemplate)]
#[template(path = "home/landing.html")]
struct LandingPage {
    layout: Layout,
}

#[derive(Template, WebTemplate)]
#[template(path = "home/welcome.html")]
struct WelcomePage {
    layout: Layout,
    display_name: String,
    city: String,
    has_interests: bool,
    window_count: i64,
    never_met: Vec<NeverMet>,
    /// The member has more connections than are ranked: the list draws from the recent ones.
    never_met_from_recent: bool,
    claims: Vec<ClaimForMe>,
    /// More claims wait than are shown.
    more_claims: bool,
    following: i64,
    met: i64,
    /// Open invitations and coffees waiting for "did you meet?", for the "Your coffees" card.
    coffees: Vec<Invitation>,
    /// The member's id, as the invitation rows ask for it.
    me: i64,
    /// Suggested coffees still waiting for the member's answer, and the zone to show them in.
    suggestions: Vec<OpenSuggestion>,
    zone: chrono_tz::Tz,
    /// Meetups still to come that the member is going to or waiting for.
    meetups: Vec<MyMeetup>,
    /// Meetups the member said they would come to and was not checked in at, the latest.
    missed_meetups: Vec<MissedMeetup>,
    /// More were missed than are named.
    more_missed: bool,
}

/// "a", "a and b", "a, b and c".
fn natural_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [only] => only.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// People shown in the "never met" list.
const NEVER_MET_SHOWN: i64 = 12;
/// "We have met" claims shown, oldest first: each one answered brings the next up, so the page
/// stays small however many someone sends.
const CLAIMS_SHOWN: i64 = 20;
/// Missed meetups named, latest first: a reminder, not a record (admins have the whole list),
/// so the sentence stays short.
const MISSED_SHOWN: i64 = 3;

impl WelcomePage {
    /// Where the member stands for a meetup on the "your meetups" card.
    fn meetup_place(&self, meetup: &MyMeetup) -> String {
        if meetup.going {
            "Going".to_owned()
        } else {
            format!("{} on the waitlist", crate::meetups::model::ordinal(meetup.position))
        }
    }

    /// When a meetup starts, at its venue.
    fn meetup_when(&self, meetup: &MyMeetup) -> String {
        local_label(meetup.starts_at, meetup.venue_zone.parse().unwrap_or(chrono_tz::UTC))
    }

    fn suggested_when(&self, s: &OpenSuggestion) -> String {
        local_label(s.starts_at, self.zone)
    }

    fn never_met_total(&self) -> i64 {
        self.never_met.first().map_or(0, |p| p.total)
    }

    fn pool(&self) -> i64 {
        NEVER_MET_POOL
    }

    fn claims_shown(&self) -> i64 {
        CLAIMS_SHOWN
    }

    /// Why this person is worth a coffee, in plain words; the city and interests marked with
    /// `isolate`, for the page to show each in a `<bdi>`.
    fn reasons(&self, person: &NeverMet) -> String {
        let mut reasons = Vec::new();
        reasons.push(if person.mutual { "you follow each other".to_owned() } else { "you are connected".to_owned() });
        if person.same_city {
            reasons.push(format!("you both live in {}", isolate(&person.city)));
        }
        if !person.shared_interests.is_empty() {
            let interests: Vec<String> = person.shared_interests.iter().map(|interest| isolate(interest)).collect();
            reasons.push(format!("you both like {}", natural_list(&interests)));
        }
        let mut text = reasons.join(", ");
        if let Some(first) = text.get_mut(0..1) {
            first.make_ascii_uppercase();
        }
        text
    }

    /// What is still missing before the scheduler can suggest a coffee.
    fn missing_steps(&self) -> Vec<(&'static str, &'static str)> {
        let mut steps = Vec::new();
        if self.city.is_empty() {
            steps.push(("/settings/profile", "Say which city you live in, so we can suggest places nearby."));
        }
        if self.window_count == 0 {
            steps.push(("/settings/availability", "Add the times of the week when you are usually free for a coffee."));
        }
        if !self.has_interests {
            steps.push(("/settings/profile", "List a few interests, so people know what to talk about."));
        }
        steps
    }
}

/// Three statements for a member: the session with its member (the extractors), this page's
/// read and the coffees, the last two side by side on two connections.
async fn show_home(
    State(state): State<AppState>,
    MaybeMember(member): MaybeMember,
    layout: Layout,
) -> AppResult<Response> {
    let Some(member) = member else {
        return Ok(LandingPage { layout }.into_response());
    };
    let limits = Limits {
        never_met_pool: NEVER_MET_POOL,
        never_met_shown: NEVER_MET_SHOWN,
        claims: CLAIMS_SHOWN + 1,
        missed: MISSED_SHOWN + 1,
        suggestions_after: chrono::Utc::now() + crate::scheduler::MIN_NOTICE,
    };
    let (home, coffees) = tokio::try_join!(
        store::load(&state.pool, member.id, &limits),
        crate::invitations::store::list_current(&state.pool, member.id),
    )?;
    let mut claims = home.claims;
    let more_claims = claims.len() as i64 > CLAIMS_SHOWN;
    claims.truncate(CLAIMS_SHOWN as usize);
    let mut missed_meetups = home.missed;
    let more_missed = missed_meetups.len() as i64 > MISSED_SHOWN;
    missed_meetups.truncate(MISSED_SHOWN as usize);
    let page = WelcomePage {
        me: member.id,
        layout,
        display_name: member.display_name,
        city: member.city,
        has_interests: home.has_interests,
        window_count: home.window_count,
        never_met: home.never_met,
        never_met_from_recent: home.ranked >= NEVER_MET_POOL,
        claims,
        more_claims,
        following: home.following,
        met: home.met,
        coffees,
        suggestions: home.suggestions,
        zone: member.time_zone.parse().unwrap_or(chrono_tz::UTC),
        meetups: home.meetups,
        missed_meetups,
        more_missed,
    };
    Ok(page.into_response())
}

#[cfg(test)]
mod tests {
    use super::natural_list;

    #[test]
    fn lists_read_as_prose() {
        let items = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(natural_list(&items(&[])), "");
        assert_eq!(natural_list(&items(&["jazz"])), "jazz");
        assert_eq!(natural_list(&items(&["jazz", "tea"])), "jazz and tea");
        assert_eq!(natural_list(&items(&["chess", "jazz", "tea"])), "chess, jazz and tea");
    }
}
