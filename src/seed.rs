//! A deterministic synthetic community for demos, benchmarks and load tests: the same
//! `--members` and `--seed` always give the same members, profiles, photos (portraits drawn by
//! code), availability, follows, blocks, organisers and their meetups with RSVPs (meetup times
//! are relative to today).
//!
//! Every member's password is [`DEMO_PASSWORD`]. It is hashed once and the hash shared: a
//! hundred thousand Argon2 hashes would take over an hour, and these accounts are not real.

use anyhow::{Context, bail};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use image::DynamicImage;
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{RngExt, SeedableRng};
use sqlx::PgPool;
use std::collections::{HashMap, HashSet};

use crate::auth::password;
use crate::photos::picture::{self, Encoded};
use crate::photos::portrait;
use crate::social::store::MetHow;

/// The password of every seeded account (printed by `serve --demo`, listed in README.md).
pub const DEMO_PASSWORD: &str = "cuppa-demo-password";
/// Member 0 of every seeded community: an ordinary member to explore Cuppa as.
pub const DEMO_HANDLE: &str = "demo";
/// Member 1: an admin.
pub const ADMIN_HANDLE: &str = "admin";

/// Rows per insert statement: large enough to amortise round trips, small enough to keep
/// each statement's arrays modest.
const BATCH: usize = 2_000;

/// The most distinct portraits a community gets: member i has portrait i mod this, so a
/// 100,000-member seed draws (and stores) a thousand pictures, not a hundred thousand.
const PORTRAITS: usize = 1_000;
/// Portraits per insert statement: a few megabytes of JPEG.
const PHOTO_BATCH: usize = 100;

/// Cities and their time zones, on several continents so that zones and DST differ.
pub const CITIES: [(&str, &str); 8] = [
    ("London", "Europe/London"),
    ("New York", "America/New_York"),
    ("Sydney", "Australia/Sydney"),
    ("Berlin", "Europe/Berlin"),
    ("Toronto", "America/Toronto"),
    ("Tokyo", "Asia/Tokyo"),
    ("Lisbon", "Europe/Lisbon"),
    ("Cape Town", "Africa/Johannesburg"),
];

const FIRST_NAMES: [&str; 40] = [
    "Ada", "Ben", "Chloe", "Dev", "Elena", "Femi", "Grace", "Hiro", "Ines", "Jonas", "Kemi", "Liam", "Maya", "Nico",
    "Olga", "Priya", "Quinn", "Rosa", "Sam", "Tariq", "Uma", "Victor", "Wen", "Ximena", "Yusuf", "Zoe", "Aiko",
    "Bruno", "Carla", "Dara", "Emil", "Farah", "Gus", "Hana", "Ivan", "Jade", "Kofi", "Lena", "Mateo", "Noor",
];

const LAST_NAMES: [&str; 40] = [
    "Abbott",
    "Banerjee",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ito",
    "Jensen",
    "Kowalski",
    "Lopez",
    "Mensah",
    "Nakamura",
    "Okafor",
    "Petrov",
    "Quispe",
    "Rossi",
    "Silva",
    "Tanaka",
    "Umar",
    "Varga",
    "Weber",
    "Xu",
    "Yilmaz",
    "Zhang",
    "Ahmed",
    "Brown",
    "Chen",
    "Diaz",
    "Evans",
    "Fernandes",
    "Gupta",
    "Hughes",
    "Iqbal",
    "Jones",
    "Kim",
    "Larsen",
    "Moreau",
    "Novak",
];

/// Venue names and streets for the seed: a few approved places in every city.
const VENUE_NAMES: [&str; 8] = [
    "The Daily Grind",
    "Corner Café",
    "Library Coffee House",
    "Bean & Leaf",
    "The Reading Room",
    "Harbour Espresso",
    "Museum Café",
    "Market Hall Coffee",
];
const STREETS: [&str; 6] = ["Market Street", "Station Road", "Park Lane", "High Street", "Church Lane", "River Walk"];
/// Approved venues per city in a seeded community.
const VENUES_PER_CITY: usize = 3;

const INTERESTS: [&str; 30] = [
    "climbing",
    "jazz",
    "board games",
    "running",
    "photography",
    "baking",
    "chess",
    "cycling",
    "poetry",
    "gardening",
    "rust",
    "design",
    "film",
    "hiking",
    "knitting",
    "languages",
    "open source",
    "podcasts",
    "pottery",
    "sci-fi",
    "swimming",
    "tea",
    "travel",
    "urbanism",
    "vinyl",
    "volunteering",
    "yoga",
    "zines",
    "birdwatching",
    "cooking",
];

/// One member as generated, before insertion.
struct Draft {
    email: String,
    handle: String,
    display_name: String,
    bio: String,
    city_index: usize,
    city: &'static str,
    time_zone: &'static str,
    interests: String,
    created_at: DateTime<Utc>,
    /// (weekday, start minute, end minute), on distinct days so they never overlap.
    windows: Vec<(i16, i16, i16)>,
}

fn draft(index: usize, rng: &mut Xoshiro256PlusPlus) -> Draft {
    let first = *FIRST_NAMES.choose(rng).expect("names");
    let last = *LAST_NAMES.choose(rng).expect("names");
    let (display_name, handle) = match index {
        0 => ("Demo Member".to_owned(), DEMO_HANDLE.to_owned()),
        1 => ("Cuppa Admin".to_owned(), ADMIN_HANDLE.to_owned()),
        _ => (format!("{first} {last}"), format!("{}_{}{index}", first.to_lowercase(), last.to_lowercase())),
    };
    // Skewed towards the first cities, as real communities are.
    let city_index = (rng.random_range(0.0..1.0_f64).powi(2) * CITIES.len() as f64) as usize;
    let city_index = city_index.min(CITIES.len() - 1);
    let (city, time_zone) = CITIES[city_index];
    let wanted = rng.random_range(2..=5);
    let interests: Vec<&str> = INTERESTS.sample(rng, wanted).copied().collect();
    let bio = format!("Coffee drinker in {city}. Happiest talking about {} or {}.", interests[0], interests[1]);
    let mut days: Vec<i16> = (0..7).collect();
    let window_count = rng.random_range(1..=4);
    let windows = (0..window_count)
        .map(|_| {
            let day = days.remove(rng.random_range(0..days.len()));
            let start = rng.random_range(7..=20) * 60 + if rng.random_bool(0.5) { 30 } else { 0 };
            let length = rng.random_range(1..=3) * 60;
            (day, start, (start + length).min(1440))
        })
        .collect();
    let epoch = DateTime::parse_from_rfc3339("2023-01-01T09:00:00Z").expect("fixed date").to_utc();
    Draft {
        email: format!("{handle}@example.com"),
        handle,
        display_name,
        bio,
        city_index,
        city,
        time_zone,
        interests: interests.join(","),
        created_at: epoch + Duration::minutes(rng.random_range(0..1_000 * 24 * 60)),
        windows,
    }
}

/// Builds a community of `members` into an empty database. Refuses a database that already
/// has members, since handles would clash and the result would no longer be reproducible.
pub async fn run(pool: &PgPool, members: usize, seed: u64, show_progress: bool) -> anyhow::Result<()> {
    fill(pool, members, seed, true, show_progress).await
}

/// [`run`] without photos: the same community otherwise (drawing takes none of the seed's
/// random numbers), for tests that need hundreds of members and no pictures. A portrait costs
/// about 20 ms to draw and encode in a debug build (the 200-member demo seed takes 4 s).
pub async fn run_without_photos(pool: &PgPool, members: usize, seed: u64) -> anyhow::Result<()> {
    fill(pool, members, seed, false, false).await
}

async fn fill(pool: &PgPool, members: usize, seed: u64, photos: bool, show_progress: bool) -> anyhow::Result<()> {
    let existing = crate::members::store::count_members(pool).await?;
    if existing > 0 {
        bail!("the database already has {existing} members; `cuppa seed` only fills an empty database");
    }
    let password_hash = password::hash(DEMO_PASSWORD.to_owned()).await?;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let progress = if show_progress { ProgressBar::new(members as u64) } else { ProgressBar::hidden() };
    progress.set_style(
        ProgressStyle::with_template("{msg:>10} [{bar:40}] {pos}/{len} ({eta} left)")
            .expect("valid template")
            .progress_chars("=> "),
    );
    // Photos first, so that members are inserted with theirs.
    progress.set_message("photos");
    let photo_of = if photos {
        insert_portraits(pool, members, seed, &progress).await.context("inserting portraits")?
    } else {
        vec![None; members]
    };
    progress.set_message("members");
    let mut ids = Vec::with_capacity(members);
    let mut city_of = Vec::with_capacity(members);
    let mut start = 0;
    while start < members {
        let end = (start + BATCH).min(members);
        let drafts: Vec<Draft> = (start..end).map(|i| draft(i, &mut rng)).collect();
        let batch_ids = insert_batch(pool, &drafts, &photo_of[start..end], &password_hash)
            .await
            .with_context(|| format!("inserting members {start}..{end}"))?;
        ids.extend(batch_ids);
        city_of.extend(drafts.iter().map(|d| d.city_index));
        progress.inc((end - start) as u64);
        start = end;
    }
    insert_venues(pool, &mut rng).await.context("inserting venues")?;
    let graph = social_graph(&city_of, &mut rng);
    progress.inc_length(graph.follows.len() as u64);
    progress.set_message("follows");
    for chunk in graph.follows.chunks(GRAPH_BATCH) {
        let (followers, followees): (Vec<i64>, Vec<i64>) = chunk.iter().map(|&(a, b)| (ids[a], ids[b])).unzip();
        sqlx::query!(
            "insert into follows (follower_id, followee_id) select * from unnest($1::bigint[], $2::bigint[])",
            &followers,
            &followees
        )
        .execute(pool)
        .await
        .context("inserting follows")?;
        progress.inc(chunk.len() as u64);
    }
    let (blockers, blocked): (Vec<i64>, Vec<i64>) = graph.blocks.iter().map(|&(a, b)| (ids[a], ids[b])).unzip();
    sqlx::query!(
        "insert into blocks (blocker_id, blocked_id) select * from unnest($1::bigint[], $2::bigint[])",
        &blockers,
        &blocked
    )
    .execute(pool)
    .await
    .context("inserting blocks")?;
    let (a_ids, b_ids): (Vec<i64>, Vec<i64>) = graph.met.iter().map(|&(a, b, _)| (ids[a], ids[b])).unzip();
    let hows: Vec<MetHow> = graph.met.iter().map(|&(_, _, how)| how).collect();
    // Ids follow insertion order, so the smaller index has the smaller id, as met_pairs needs.
    sqlx::query!(
        "insert into met_pairs (a_id, b_id, how, met_at)
         select a, b, how, timestamptz '2025-06-01 12:00:00+00' - make_interval(days => (a + b)::int % 300)
         from unnest($1::bigint[], $2::bigint[], $3::met_how[]) as m(a, b, how)",
        &a_ids,
        &b_ids,
        &hows as &[MetHow]
    )
    .execute(pool)
    .await
    .context("inserting met pairs")?;
    insert_demo_invitations(pool, ids[0]).await.context("inserting the demo member's invitations")?;
    progress.set_message("meetups");
    insert_meetups(pool, &ids, &city_of, &graph, &mut rng).await.context("inserting meetups")?;
    // Fresh statistics and visibility maps, so that the first queries and benchmarks see the
    // plans (index-only scans included) a settled database would give.
    progress.set_message("vacuum");
    sqlx::raw_sql("vacuum analyze").execute(pool).await.context("vacuum analyze after seeding")?;
    progress.finish_with_message("done");
    Ok(())
}

/// Member `index`'s portrait, if they have a photo: about four in five do, as in a real
/// community where some never upload one, and always the demo member and the admin. Chosen by
/// a hash of the index rather than by the seed's random numbers, so the rest of the community
/// is the same with photos or without.
fn portrait_of(index: usize) -> Option<usize> {
    (index < 2 || !portrait::mix(index as u64).is_multiple_of(5)).then_some(index % PORTRAITS)
}

/// Draws the portraits that members with a photo need and stores them (`member_id` null: no
/// member uploaded them), a batch at a time. Returns each member's photo, in member order.
async fn insert_portraits(
    pool: &PgPool,
    members: usize,
    seed: u64,
    progress: &ProgressBar,
) -> anyhow::Result<Vec<Option<i64>>> {
    let mut needed = vec![false; members.min(PORTRAITS)];
    for slot in (0..members).filter_map(portrait_of) {
        needed[slot] = true;
    }
    let slots: Vec<usize> = (0..needed.len()).filter(|&slot| needed[slot]).collect();
    progress.inc_length(slots.len() as u64);
    let mut photo_of_slot = vec![None; needed.len()];
    for chunk in slots.chunks(PHOTO_BATCH) {
        // Portrait `slot` of this seed: a key of its own for every seed below 2^64 / 1,000.
        let keys: Vec<u64> =
            chunk.iter().map(|&slot| seed.wrapping_mul(PORTRAITS as u64).wrapping_add(slot as u64)).collect();
        let drawn = tokio::task::spawn_blocking(move || draw_portraits(&keys)).await?;
        let (small, large): (Vec<Vec<u8>>, Vec<Vec<u8>>) = drawn.into_iter().map(|p| (p.small, p.large)).unzip();
        // Identity values are drawn in the arrays' order (see the meetups' insert).
        let mut photo_ids = sqlx::query_scalar!(
            "insert into photos (small, large)
             select s, l
             from unnest($1::bytea[], $2::bytea[]) with ordinality as p(s, l, n)
             order by n
             returning id",
            &small,
            &large
        )
        .fetch_all(pool)
        .await?;
        photo_ids.sort_unstable();
        for (&slot, id) in chunk.iter().zip(photo_ids) {
            photo_of_slot[slot] = Some(id);
        }
        progress.inc(chunk.len() as u64);
    }
    Ok((0..members).map(|i| portrait_of(i).and_then(|slot| photo_of_slot[slot])).collect())
}

/// Draws and encodes the portraits of `keys`, in order, on every core: pictures are the
/// slowest part of a small seed (the demo's), and each is independent of the others.
fn draw_portraits(keys: &[u64]) -> Vec<Encoded> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let share = keys.len().div_ceil(cores).max(1);
    std::thread::scope(|scope| {
        let workers: Vec<_> = keys
            .chunks(share)
            .map(|keys| {
                scope.spawn(|| {
                    keys.iter()
                        .map(|&key| picture::encode(&DynamicImage::ImageRgb8(portrait::draw(key))))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers.into_iter().flat_map(|worker| worker.join().expect("drawing a portrait does not panic")).collect()
    })
}

/// One invitation in each state the demo member's pages show, with people the demo member is
/// connected to in their city but has not met: received and sent (waiting), an agreed coffee
/// in four days, and yesterday's coffee asking "did you meet?". Made through the same store
/// calls and notices as the pages use, so the notifications and outbox match.
async fn insert_demo_invitations(pool: &PgPool, demo: i64) -> anyhow::Result<()> {
    use crate::invitations::model::{Side, State};
    use crate::invitations::{notices, store};
    use crate::notify::model::Kind;

    let partners = sqlx::query_scalar!(
        "select m.id from members m join members d on d.id = $1
         where m.id <> $1 and m.city = d.city and m.status = 'active'
           and exists (select from follows f where (f.follower_id = $1 and f.followee_id = m.id)
                                                or (f.follower_id = m.id and f.followee_id = $1))
           and not exists (select from met_pairs p where p.a_id = least($1, m.id) and p.b_id = greatest($1, m.id))
           and not exists (select from blocks b where (b.blocker_id = $1 and b.blocked_id = m.id)
                                                or (b.blocker_id = m.id and b.blocked_id = $1))
         order by m.id
         limit 4",
        demo
    )
    .fetch_all(pool)
    .await?;
    let venue = sqlx::query!(
        "select v.id, v.time_zone from venues v join members d on d.id = $1 and v.city = d.city
         where v.status = 'approved' order by v.id limit 1",
        demo
    )
    .fetch_optional(pool)
    .await?;
    let Some(venue) = venue else { return Ok(()) };
    // Times a person would propose: whole hours of the day at the venue, `days` from today.
    let zone: chrono_tz::Tz = venue.time_zone.parse().unwrap_or(chrono_tz::UTC);
    let today = Utc::now().with_timezone(&zone).date_naive();
    let at = |days: i64, hour: u32| -> DateTime<Utc> {
        let local = (today + Duration::days(days)).and_hms_opt(hour, 0, 0).expect("a valid hour");
        local.and_local_timezone(zone).earliest().map_or_else(|| local.and_utc(), |t| t.with_timezone(&Utc))
    };
    let mut tx = pool.begin().await?;
    for (step, partner) in partners.into_iter().enumerate() {
        let (inviter, invitee) = if step % 2 == 0 { (partner, demo) } else { (demo, partner) };
        let times = [at(step as i64 + 2, 10), at(step as i64 + 3, 15)];
        let note = "It would be good to put a face to the name. Coffee?";
        let id = store::insert_invitation(&mut tx, inviter, invitee, venue.id, &times, note).await?;
        let mut invitation = store::find_invitation(&mut *tx, id).await?.context("the invitation just made")?;
        crate::notify::store::record(
            &mut tx,
            invitee,
            &notices::notice(Kind::InvitationReceived, &invitation, Side::Invitee),
        )
        .await?;
        if step < 2 {
            continue;
        }
        let (state, time, kind) = if step == 2 {
            (State::Accepted, at(4, 11), Kind::InvitationAccepted)
        } else {
            (State::Held, at(-1, 16), Kind::DidYouMeet)
        };
        let agreed = [time];
        let change = store::Change {
            state,
            proposed_times: &agreed,
            proposed_by: invitation.proposed_by,
            accepted_time: Some(time),
            closing_note: "",
            closed_by: None,
        };
        store::update_invitation(&mut tx, id, &change).await?;
        invitation = store::find_invitation(&mut *tx, id).await?.context("the invitation just changed")?;
        crate::notify::store::record(&mut tx, inviter, &notices::notice(kind, &invitation, Side::Inviter)).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// About one organiser per this many members, and one upcoming meetup per this many.
const MEMBERS_PER_ORGANISER: usize = 500;
const MEMBERS_PER_MEETUP: usize = 50;

/// An approved venue, as meetups are placed at them.
struct SeedVenue {
    id: i64,
    name: String,
    zone: chrono_tz::Tz,
}

/// One meetup as planned, before insertion. People are member indexes.
struct MeetupPlan {
    organiser: usize,
    venue_id: i64,
    title: String,
    description: String,
    starts_at: DateTime<Utc>,
    ends_at: DateTime<Utc>,
    capacity: usize,
    followers_only: bool,
    /// An RSVP deadline a day before the start.
    deadline: bool,
    created_at: DateTime<Utc>,
}

/// One RSVP as planned, in arrival order: `meetup` indexes the plans.
struct RsvpPlan {
    meetup: usize,
    member: usize,
    going: bool,
    checked_in_at: Option<DateTime<Utc>>,
    created_at: DateTime<Utc>,
}

/// Everything the meetups step writes: who organises, their meetups and the RSVPs.
struct MeetupsPlan {
    organisers: Vec<usize>,
    meetups: Vec<MeetupPlan>,
    rsvps: Vec<RsvpPlan>,
}

/// Organisers and their meetups at the approved venues of their city: about one upcoming
/// meetup per fifty members and a third as many past ones, with RSVPs from the organiser's
/// city (a waitlist where more came than there are seats) and check-ins at the past ones.
/// The demo member organises one, is going to one and waits on the waitlist of another.
/// Which rows are drawn depends only on the rng; the times are relative to today, as the
/// demo member's invitations are.
async fn insert_meetups(
    pool: &PgPool,
    ids: &[i64],
    city_of: &[usize],
    graph: &Graph,
    rng: &mut Xoshiro256PlusPlus,
) -> anyhow::Result<()> {
    let venues = sqlx::query!("select id, name, city, time_zone from venues where status = 'approved' order by id")
        .fetch_all(pool)
        .await?;
    let mut venues_by_city: Vec<Vec<SeedVenue>> = (0..CITIES.len()).map(|_| Vec::new()).collect();
    for venue in venues {
        let city = CITIES.iter().position(|(name, _)| name.to_lowercase() == venue.city.to_lowercase());
        let Some(city) = city else { continue };
        let zone = venue.time_zone.parse().unwrap_or(chrono_tz::UTC);
        venues_by_city[city].push(SeedVenue { id: venue.id, name: venue.name, zone });
    }
    let plan = plan_meetups(city_of, graph, &venues_by_city, Utc::now(), rng);

    let mut tx = pool.begin().await?;
    let organiser_ids: Vec<i64> = plan.organisers.iter().map(|&m| ids[m]).collect();
    sqlx::query!("update members set role = 'organiser' where id = any($1) and role = 'member'", &organiser_ids)
        .execute(&mut *tx)
        .await?;
    let mut meetup_ids = Vec::with_capacity(plan.meetups.len());
    for chunk in plan.meetups.chunks(BATCH) {
        let column = |f: fn(&MeetupPlan) -> String| chunk.iter().map(f).collect::<Vec<String>>();
        let time = |f: fn(&MeetupPlan) -> DateTime<Utc>| chunk.iter().map(f).collect::<Vec<_>>();
        // Identity values are drawn as the rows are inserted, here in the arrays' order, so
        // the returned ids sorted are the plans' ids in order (`returning` has no order).
        let mut batch_ids = sqlx::query_scalar!(
            "insert into meetups (organiser_id, venue_id, title, description, starts_at, ends_at, capacity,
                                  visibility, rsvp_deadline, created_at, updated_at)
             select o, v, t, d, s, e, c, vis::meetup_visibility, case when dl then s - interval '1 day' end, cr, cr
             from unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[],
                         $7::int[], $8::text[], $9::bool[], $10::timestamptz[])
                  with ordinality as m(o, v, t, d, s, e, c, vis, dl, cr, n)
             order by n
             returning id",
            &chunk.iter().map(|m| ids[m.organiser]).collect::<Vec<_>>(),
            &chunk.iter().map(|m| m.venue_id).collect::<Vec<_>>(),
            &column(|m| m.title.clone()),
            &column(|m| m.description.clone()),
            &time(|m| m.starts_at),
            &time(|m| m.ends_at),
            &chunk.iter().map(|m| m.capacity as i32).collect::<Vec<_>>(),
            &column(|m| if m.followers_only { "followers" } else { "public" }.to_owned()),
            &chunk.iter().map(|m| m.deadline).collect::<Vec<_>>(),
            &time(|m| m.created_at),
        )
        .fetch_all(&mut *tx)
        .await?;
        batch_ids.sort_unstable();
        meetup_ids.extend(batch_ids);
    }
    // Arrival numbers are the plan's order, set explicitly rather than left to the column's
    // default so the waitlist order cannot depend on how the insert walks the arrays; the
    // sequence then continues after them for the RSVPs members make.
    for (batch, chunk) in plan.rsvps.chunks(GRAPH_BATCH).enumerate() {
        let first = (batch * GRAPH_BATCH) as i64 + 1;
        let checked_in: Vec<bool> = chunk.iter().map(|r| r.checked_in_at.is_some()).collect();
        let checked_in_at: Vec<DateTime<Utc>> = chunk.iter().map(|r| r.checked_in_at.unwrap_or(r.created_at)).collect();
        sqlx::query!(
            "insert into rsvps (meetup_id, member_id, status, arrival, checked_in_at, created_at, updated_at)
             select m, p, s::rsvp_status, a, case when c then t end, cr, case when c then t else cr end
             from unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[], $5::bool[], $6::timestamptz[],
                         $7::timestamptz[]) as r(m, p, s, a, c, t, cr)",
            &chunk.iter().map(|r| meetup_ids[r.meetup]).collect::<Vec<_>>(),
            &chunk.iter().map(|r| ids[r.member]).collect::<Vec<_>>(),
            &chunk.iter().map(|r| if r.going { "going" } else { "waitlisted" }.to_owned()).collect::<Vec<_>>(),
            &(first..first + chunk.len() as i64).collect::<Vec<_>>(),
            &checked_in,
            &checked_in_at,
            &chunk.iter().map(|r| r.created_at).collect::<Vec<_>>(),
        )
        .execute(&mut *tx)
        .await?;
    }
    if !plan.rsvps.is_empty() {
        sqlx::query!("select setval('rsvps_arrival', $1)", plan.rsvps.len() as i64).fetch_one(&mut *tx).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// The meetups step without the database: see [`insert_meetups`].
fn plan_meetups(
    city_of: &[usize],
    graph: &Graph,
    venues_by_city: &[Vec<SeedVenue>],
    now: DateTime<Utc>,
    rng: &mut Xoshiro256PlusPlus,
) -> MeetupsPlan {
    let n = city_of.len();
    let mut plan = MeetupsPlan { organisers: Vec::new(), meetups: Vec::new(), rsvps: Vec::new() };
    if n == 0 {
        return plan;
    }
    let demo = 0;
    let mut by_city: Vec<Vec<usize>> = vec![Vec::new(); CITIES.len()];
    for (member, &city) in city_of.iter().enumerate() {
        by_city[city].push(member);
    }
    let everyone: Vec<usize> = (0..n).collect();
    let blocked: HashSet<(usize, usize)> = graph.blocks.iter().flat_map(|&(a, b)| [(a, b), (b, a)]).collect();
    let is_blocked = |a: usize, b: usize| blocked.contains(&(a, b));

    // The admin stays an admin and the demo member is added below, so organisers are drawn
    // from the rest: in each city about in proportion to its members (largest remainders).
    let mut organisers = Vec::new();
    let eligible = n.saturating_sub(2);
    if eligible > 0 {
        let wanted = (n / MEMBERS_PER_ORGANISER).clamp(1, eligible);
        let candidates: Vec<Vec<usize>> =
            by_city.iter().map(|members| members.iter().copied().filter(|&m| m >= 2).collect()).collect();
        let exact: Vec<f64> = candidates.iter().map(|c| (wanted * c.len()) as f64 / eligible as f64).collect();
        let mut quota: Vec<usize> = exact.iter().map(|e| e.floor() as usize).collect();
        let mut by_remainder: Vec<usize> = (0..CITIES.len()).collect();
        by_remainder.sort_by(|&a, &b| (exact[b] - exact[b].floor()).total_cmp(&(exact[a] - exact[a].floor())));
        let short = wanted - quota.iter().sum::<usize>();
        for &city in by_remainder.iter().take(short) {
            quota[city] += 1;
        }
        for (city, members) in candidates.iter().enumerate() {
            organisers.extend(members.sample(rng, quota[city]).copied());
        }
        organisers.sort_unstable();
    }

    // The demo member's hosts: organisers in their city who are not blocked with them, or,
    // in a community too small to have one, a member there made an organiser for the purpose.
    // Only when their city has nobody else does someone from another city host: an organiser
    // already, if there is one.
    let demo_city = city_of[demo];
    let demo_venues = &venues_by_city[demo_city];
    let mut hosts: Vec<usize> =
        organisers.iter().copied().filter(|&m| city_of[m] == demo_city && !is_blocked(m, demo)).take(2).collect();
    if hosts.is_empty() && !demo_venues.is_empty() {
        let unblocked = |pool: &[usize]| -> Vec<usize> {
            pool.iter().copied().filter(|&m| m >= 2 && !is_blocked(m, demo)).collect()
        };
        let mut pool = unblocked(&by_city[demo_city]);
        if pool.is_empty() {
            pool = unblocked(&organisers);
        }
        if pool.is_empty() {
            pool = unblocked(&everyone);
        }
        if let Some(&host) = pool.choose(rng) {
            hosts.push(host);
            if !organisers.contains(&host) {
                organisers.push(host);
                organisers.sort_unstable();
            }
        }
    }
    let general: Vec<usize> = organisers.clone();
    organisers.insert(0, demo);

    // Each organiser's followers in their own city: the first to hear of their meetups.
    let organiser_set: HashSet<usize> = organisers.iter().copied().collect();
    let mut fans: HashMap<usize, Vec<usize>> = organisers.iter().map(|&m| (m, Vec::new())).collect();
    for &(follower, followee) in &graph.follows {
        if organiser_set.contains(&followee) && city_of[follower] == city_of[followee] {
            fans.get_mut(&followee).expect("an organiser").push(follower);
        }
    }

    // The demo member's three, on fixed days at the venues of their city: one they are going
    // to, one they wait for (four seats taken before them, perhaps one more behind) and their
    // own. Days ahead and minute of the day of each, in that order:
    let slots: [(i64, u32); 3] = [(5, 10 * 60), (8, 14 * 60 + 30), (11, 9 * 60 + 30)];
    if let Some(first) = demo_venues.first() {
        let today = now.with_timezone(&first.zone).date_naive();
        let special = |organiser: usize, slot: usize, capacity: usize, title: &str, text: &str| {
            let venue = &demo_venues[slot % demo_venues.len()];
            let (days, minute) = slots[slot];
            let starts_at = local_time(venue.zone, today + Duration::days(days), minute);
            MeetupPlan {
                organiser,
                venue_id: venue.id,
                title: format!("{title} {}", venue.name),
                description: text.to_owned(),
                starts_at,
                ends_at: starts_at + Duration::hours(2),
                capacity,
                followers_only: false,
                deadline: false,
                created_at: now.min(starts_at - Duration::days(10)),
            }
        };
        // People in the demo member's city for `organiser`'s meetup; anyone, in a community
        // too small to have enough there.
        let near = |organiser: usize, wanted: usize, rng: &mut Xoshiro256PlusPlus| {
            let allowed = |m: usize| m != demo && m != organiser && !is_blocked(m, organiser) && !is_blocked(m, demo);
            let mut people = draw_attendees(&fans[&organiser], &by_city[demo_city], wanted, false, &allowed, rng);
            if people.len() < wanted {
                let missing = wanted - people.len();
                let more = draw_attendees(&[], &everyone, missing, false, &|m| allowed(m) && !people.contains(&m), rng);
                people.extend(more);
            }
            people
        };
        let mut meetups = Vec::new();
        if let (Some(&host), Some(&other_host)) = (hosts.first(), hosts.last()) {
            let mut going = near(host, rng.random_range(3..=6), rng);
            going.insert(going.len().min(1), demo);
            let text = "Bring a book, a question or just yourself. We take the big table by the window.";
            meetups.push((special(host, 0, 12, "Coffee morning at", text), going));
            let others = near(other_host, 5, rng);
            if !others.is_empty() {
                let seats = others.len().min(4);
                let mut queue = others[..seats].to_vec();
                queue.push(demo);
                queue.extend(&others[seats..]);
                let text = "A small table on purpose: four of us, one conversation.\nTea drinkers very welcome.";
                meetups.push((special(other_host, 1, seats, "Four seats at", text), queue));
            }
        }
        let own = near(demo, rng.random_range(3..=5), rng);
        let text = "First time at a Cuppa meetup? So is everyone, once.\nMore: https://example.org/cuppa/open-table";
        meetups.push((special(demo, 2, 8, "Open table at", text), own));
        for (meetup, people) in meetups {
            push_meetup(&mut plan, meetup, people, now, rng);
        }
    }

    // Everyone else's, at a venue in the organiser's city.
    let upcoming = if n >= 5 { (n / MEMBERS_PER_MEETUP).max(3) } else { n / MEMBERS_PER_MEETUP };
    let past = (upcoming + 1) / 3;
    for k in 0..upcoming + past {
        let Some(&organiser) = general.choose(rng) else { break };
        let Some(venue) = venues_by_city[city_of[organiser]].choose(rng) else { continue };
        let days = if k < upcoming { rng.random_range(1..=30) } else { -rng.random_range(2..=60) };
        let date = now.with_timezone(&venue.zone).date_naive() + Duration::days(days);
        // A whole or half hour from 08:00 to 19:00, for one to three hours.
        let starts_at = local_time(venue.zone, date, rng.random_range(16..=38) * 30);
        let (title, description) = meetup_text(&venue.name, CITIES[city_of[organiser]].0, date, rng);
        let capacity = rng.random_range(4..=40);
        let followers_only = rng.random_bool(0.2);
        let meetup = MeetupPlan {
            organiser,
            venue_id: venue.id,
            title,
            description,
            starts_at,
            ends_at: starts_at + Duration::hours(rng.random_range(1..=3)),
            capacity,
            followers_only,
            // Not when the deadline would already have passed, closing an upcoming meetup.
            deadline: rng.random_bool(0.25) && !(1..3).contains(&days),
            created_at: now.min(starts_at - Duration::days(rng.random_range(7..=21))),
        };
        // Up to 1.4 times the seats, so some meetups are full with a waitlist. Never the
        // demo member, whose meetups are the three above.
        let wanted = rng.random_range(0..=capacity * 7 / 5);
        let allowed = |m: usize| m != demo && m != organiser && !is_blocked(m, organiser);
        let pool = &by_city[city_of[organiser]];
        let people = draw_attendees(&fans[&organiser], pool, wanted, followers_only, &allowed, rng);
        push_meetup(&mut plan, meetup, people, now, rng);
    }
    plan.organisers = organisers;
    plan
}

/// Adds a meetup and its RSVPs in arrival order: the first `capacity` going, the rest
/// waitlisted. Four in five of those going to a past meetup were checked in; the rest did
/// not come.
fn push_meetup(
    plan: &mut MeetupsPlan,
    meetup: MeetupPlan,
    people: Vec<usize>,
    now: DateTime<Utc>,
    rng: &mut Xoshiro256PlusPlus,
) {
    let index = plan.meetups.len();
    let past = meetup.starts_at < now;
    for (arrival, member) in people.into_iter().enumerate() {
        let going = arrival < meetup.capacity;
        let checked_in = going && past && rng.random_bool(0.8);
        plan.rsvps.push(RsvpPlan {
            meetup: index,
            member,
            going,
            checked_in_at: checked_in.then(|| meetup.starts_at + Duration::minutes(rng.random_range(0..=15))),
            created_at: now.min(meetup.created_at + Duration::hours(arrival as i64 + 1)),
        });
    }
    plan.meetups.push(meetup);
}

/// Up to `wanted` people, in a random order of arrival: `fans` (the organiser's followers)
/// first, then, unless the meetup is for followers only, others from `pool`. Only those
/// `allowed`.
fn draw_attendees(
    fans: &[usize],
    pool: &[usize],
    wanted: usize,
    followers_only: bool,
    allowed: &dyn Fn(usize) -> bool,
    rng: &mut Xoshiro256PlusPlus,
) -> Vec<usize> {
    let mut people: Vec<usize> = fans.iter().copied().filter(|&m| allowed(m)).collect();
    people.shuffle(rng);
    people.truncate(wanted);
    if !followers_only && people.len() < wanted {
        // A sample with room for those it must skip, rather than shuffling a whole city of
        // tens of thousands for each meetup.
        let room = (wanted + 32).min(pool.len());
        let drawn: Vec<usize> = pool.sample(rng, room).copied().collect();
        for m in drawn {
            if people.len() == wanted {
                break;
            }
            if allowed(m) && !people.contains(&m) {
                people.push(m);
            }
        }
    }
    people.shuffle(rng);
    people
}

/// The instant of `minute` past midnight on `date` at a place in `zone`; in a DST gap, the
/// wall-clock time read as UTC, as the demo member's invitations do.
fn local_time(zone: chrono_tz::Tz, date: NaiveDate, minute: u32) -> DateTime<Utc> {
    let local = date.and_hms_opt(minute / 60, minute % 60, 0).expect("a time of day");
    local.and_local_timezone(zone).earliest().map_or_else(|| local.and_utc(), |t| t.with_timezone(&Utc))
}

/// A title and a description of a sentence or two: some on two lines, some with a link.
fn meetup_text(venue: &str, city: &str, date: NaiveDate, rng: &mut Xoshiro256PlusPlus) -> (String, String) {
    let topic = *INTERESTS.choose(rng).expect("interests");
    let mut capital = topic.chars();
    let topic_title: String = capital.next().map(|c| c.to_uppercase().chain(capital).collect()).unwrap_or_default();
    let title = match rng.random_range(0..6) {
        0 => format!("Coffee morning at {venue}"),
        1 => format!("{topic_title} over coffee"),
        2 => format!("Newcomers' coffee in {city}"),
        3 => format!("{} coffee at {venue}", date.format("%A")),
        4 => format!("Talking {topic}: a cuppa and a chat"),
        _ => format!("{city} {topic} circle"),
    };
    let mut description = match rng.random_range(0..4) {
        0 => format!("An hour of coffee and talk about {topic}, whatever you know about it."),
        1 => "Bring a book, a question or just yourself.".to_owned(),
        2 => format!("We take the big table at the back of {venue}."),
        _ => "First time? Say hello at the door and we will introduce you.".to_owned(),
    };
    if rng.random_bool(0.5) {
        let second = ["Tea drinkers very welcome.", "Cake is optional but encouraged.", "Some of us stay on after."];
        description.push(if rng.random_bool(0.3) { '\n' } else { ' ' });
        description.push_str(second.choose(rng).expect("sentences"));
    }
    if rng.random_bool(0.25) {
        description.push_str(&format!("\nMore about us: https://example.org/cuppa/{}", topic.replace(' ', "-")));
    }
    (title, description)
}

/// A few approved venues in every city, with distinct names within a city.
async fn insert_venues(pool: &PgPool, rng: &mut Xoshiro256PlusPlus) -> anyhow::Result<()> {
    let (mut names, mut addresses, mut cities, mut zones) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (city, zone) in CITIES {
        for name in VENUE_NAMES.sample(rng, VENUES_PER_CITY) {
            names.push((*name).to_owned());
            addresses.push(format!("{} {}", rng.random_range(1..200), STREETS.choose(rng).expect("streets")));
            cities.push(city.to_owned());
            zones.push(zone.to_owned());
        }
    }
    crate::venues::store::insert_seed_venues(pool, &names, &addresses, &cities, &zones).await?;
    Ok(())
}

/// Follow rows per insert statement.
const GRAPH_BATCH: usize = 20_000;

/// Who follows and blocks whom, by member index.
struct Graph {
    follows: Vec<(usize, usize)>,
    blocks: Vec<(usize, usize)>,
    /// Pairs who have met, smaller index first, and how.
    met: Vec<(usize, usize, MetHow)>,
}

/// A follow graph shaped like a real one. Everyone follows 2 to 14 people, four in five
/// within their own city, and a quarter of follows are returned: about ten follows a member,
/// a million for 100,000 members. Targets are drawn with a strong bias towards the first
/// members of each city (in a shuffled order), so a few are popular and most have a handful
/// of followers. About one member in two thousand blocks someone, and no follow stands across
/// a block.
fn social_graph(city_of: &[usize], rng: &mut Xoshiro256PlusPlus) -> Graph {
    let n = city_of.len();
    let mut by_city: Vec<Vec<usize>> = vec![Vec::new(); CITIES.len()];
    for (member, &city) in city_of.iter().enumerate() {
        by_city[city].push(member);
    }
    // Shuffled, so that the popular few are ordinary members rather than the demo accounts.
    for members in &mut by_city {
        members.shuffle(rng);
    }
    let mut everyone: Vec<usize> = (0..n).collect();
    everyone.shuffle(rng);
    // Cubing a uniform draw puts most of the weight near index 0.
    let skewed =
        |len: usize, rng: &mut Xoshiro256PlusPlus| (len as f64 * rng.random_range(0.0..1.0_f64).powi(3)) as usize;
    let mut seen = std::collections::HashSet::new();
    let mut follows = Vec::with_capacity(n * 10);
    for a in 0..n {
        for _ in 0..rng.random_range(2..=14) {
            let b = if rng.random_bool(0.8) {
                let local = &by_city[city_of[a]];
                local[skewed(local.len(), rng)]
            } else {
                everyone[skewed(n, rng)]
            };
            if a == b || !seen.insert((a, b)) {
                continue;
            }
            follows.push((a, b));
            if rng.random_bool(0.25) && seen.insert((b, a)) {
                follows.push((b, a));
            }
        }
    }
    let mut blocks = Vec::new();
    if n >= 2 {
        for _ in 0..(n / 2000).max(1) {
            let (a, b) = (rng.random_range(0..n), rng.random_range(0..n));
            if a != b && !blocks.contains(&(a, b)) {
                blocks.push((a, b));
            }
        }
    }
    let blocked: std::collections::HashSet<(usize, usize)> =
        blocks.iter().flat_map(|&(a, b)| [(a, b), (b, a)]).collect();
    follows.retain(|pair| !blocked.contains(pair));
    // One mutual pair in five has already met, mostly over a claimed coffee.
    let mut met = Vec::new();
    for &(a, b) in &follows {
        if a < b && seen.contains(&(b, a)) && !blocked.contains(&(a, b)) && rng.random_bool(0.2) {
            let how = match rng.random_range(0..10) {
                0..=5 => MetHow::Claimed,
                6..=8 => MetHow::Coffee,
                _ => MetHow::Meetup,
            };
            met.push((a, b, how));
        }
    }
    Graph { follows, blocks, met }
}

/// Inserts one batch of members with their photos (`photo_ids`, one per draft) and their
/// availability; returns their ids in draft order.
async fn insert_batch(
    pool: &PgPool,
    drafts: &[Draft],
    photo_ids: &[Option<i64>],
    password_hash: &str,
) -> anyhow::Result<Vec<i64>> {
    let column = |f: fn(&Draft) -> String| drafts.iter().map(f).collect::<Vec<String>>();
    let mut tx = pool.begin().await?;
    let ids = sqlx::query!(
        r#"insert into members (email, handle, display_name, password_hash, bio, city, time_zone, interests, created_at,
                                   email_verified_at, photo_id)
           select email, handle, display_name, $4, bio, city, time_zone, string_to_array(interests, ','), created_at,
                  created_at, photo_id
           from unnest($1::text[], $2::text[], $3::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::timestamptz[],
                       $10::bigint[])
                as d(email, handle, display_name, bio, city, time_zone, interests, created_at, photo_id)
           returning id, handle"#,
        &column(|d| d.email.clone()),
        &column(|d| d.handle.clone()),
        &column(|d| d.display_name.clone()),
        password_hash,
        &column(|d| d.bio.clone()),
        &column(|d| d.city.to_owned()),
        &column(|d| d.time_zone.to_owned()),
        &column(|d| d.interests.clone()),
        &drafts.iter().map(|d| d.created_at).collect::<Vec<_>>(),
        photo_ids as &[Option<i64>],
    )
    .fetch_all(&mut *tx)
    .await?;
    let id_of: std::collections::HashMap<&str, i64> = ids.iter().map(|r| (r.handle.as_str(), r.id)).collect();
    let (mut member_ids, mut weekdays, mut starts, mut ends) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for d in drafts {
        for &(day, start, end) in &d.windows {
            member_ids.push(id_of[d.handle.as_str()]);
            weekdays.push(day);
            starts.push(start);
            ends.push(end);
        }
    }
    sqlx::query!(
        "insert into availability (member_id, weekday, start_minute, end_minute)
         select * from unnest($1::bigint[], $2::smallint[], $3::smallint[], $4::smallint[])",
        &member_ids,
        &weekdays,
        &starts,
        &ends,
    )
    .execute(&mut *tx)
    .await?;
    if drafts.iter().any(|d| d.handle == ADMIN_HANDLE) {
        crate::members::store::update_role(&mut *tx, ADMIN_HANDLE, crate::members::model::Role::Admin).await?;
    }
    tx.commit().await?;
    Ok(drafts.iter().map(|d| id_of[d.handle.as_str()]).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn about_four_in_five_have_a_photo_and_a_large_community_shares_a_thousand() {
        let members = 100_000;
        let slots: Vec<usize> = (0..members).filter_map(portrait_of).collect();
        let share = slots.len() as f64 / members as f64;
        assert!((0.78..0.82).contains(&share), "{share}");
        assert!(portrait_of(0).is_some() && portrait_of(1).is_some(), "the demo member and the admin");
        let distinct: HashSet<usize> = slots.into_iter().collect();
        assert!(distinct.len() <= PORTRAITS && distinct.len() > PORTRAITS * 3 / 4, "{}", distinct.len());
    }
}
