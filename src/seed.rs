//! A deterministic synthetic community for demos, benchmarks and load tests: the same
//! `--members` and `--seed` always give the same members, profiles, availability, follows
//! and blocks.
//!
//! Every member's password is [`DEMO_PASSWORD`]. It is hashed once and the hash shared: a
//! hundred thousand Argon2 hashes would take over an hour, and these accounts are not real.

use anyhow::{Context, bail};
use chrono::{DateTime, Duration, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{RngExt, SeedableRng};
use sqlx::PgPool;

use crate::auth::password;
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
    progress.set_message("members");
    let mut ids = Vec::with_capacity(members);
    let mut city_of = Vec::with_capacity(members);
    let mut start = 0;
    while start < members {
        let end = (start + BATCH).min(members);
        let drafts: Vec<Draft> = (start..end).map(|i| draft(i, &mut rng)).collect();
        let batch_ids = insert_batch(pool, &drafts, &password_hash)
            .await
            .with_context(|| format!("inserting members {start}..{end}"))?;
        ids.extend(batch_ids);
        city_of.extend(drafts.iter().map(|d| d.city_index));
        progress.inc((end - start) as u64);
        start = end;
    }
    insert_venues(pool, &mut rng).await.context("inserting venues")?;
    let graph = social_graph(&city_of, &mut rng);
    progress.set_length(members as u64 + graph.follows.len() as u64);
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
    // Fresh statistics and visibility maps, so that the first queries and benchmarks see the
    // plans (index-only scans included) a settled database would give.
    progress.set_message("vacuum");
    sqlx::raw_sql("vacuum analyze").execute(pool).await.context("vacuum analyze after seeding")?;
    progress.finish_with_message("done");
    Ok(())
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

/// Inserts one batch of members with their availability; returns their ids in draft order.
async fn insert_batch(pool: &PgPool, drafts: &[Draft], password_hash: &str) -> anyhow::Result<Vec<i64>> {
    let column = |f: fn(&Draft) -> String| drafts.iter().map(f).collect::<Vec<String>>();
    let mut tx = pool.begin().await?;
    let ids = sqlx::query!(
        r#"insert into members (email, handle, display_name, password_hash, bio, city, time_zone, interests, created_at)
           select email, handle, display_name, $4, bio, city, time_zone, string_to_array(interests, ','), created_at
           from unnest($1::text[], $2::text[], $3::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::timestamptz[])
                as d(email, handle, display_name, bio, city, time_zone, interests, created_at)
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
