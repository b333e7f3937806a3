//! The journeys of issue 14, each in real Chromium windows (one a person) against a real
//! `cuppa serve` on a fresh database, each step checked by what the page shows a reader.
//!
//! Who the people are (members, a café, who follows whom) is written straight into the tables:
//! that is set-up, not what a journey is about. Everything a journey is about goes through the
//! pages, by clicking and typing.

mod coffee;
mod meetup;
mod moderation;
mod scheduler;

use chrono::{DateTime, Days, TimeZone, Utc};
use chrono_tz::Europe::London;
use sqlx::PgPool;

use crate::driver::{Browser, DESKTOP};
use crate::served::{Options, Served};
use crate::test_db;

/// Every cast member's password.
pub const PASSWORD: &str = "a sturdy journey password";
/// The one café of every journey, approved, in London (where everyone lives).
pub const VENUE: &str = "Corner Café";
pub const VENUE_PLACE: &str = "Corner Café, 12 Market Street, London";

/// A fresh database and a `cuppa serve` on it.
pub struct Scene {
    pub pool: PgPool,
    pub server: Served,
    password_hash: String,
}

impl Scene {
    /// Serves with `--no-jobs`: on a fresh database the scheduler job would run this week's
    /// round as soon as the server starts, and the minute job would move invitations at
    /// moments of its choosing. A journey that needs a job's work runs it when its story says.
    pub async fn start() -> Scene {
        let (pool, url) = test_db::fresh_database().await;
        let server = Served::start(Options { database_url: Some(&url), serve_args: &["--no-jobs"], env: &[] });
        let password_hash = cuppa::auth::password::hash(PASSWORD.to_owned()).await.expect("a password hash");
        let scene = Scene { pool, server, password_hash };
        sqlx::query(
            "insert into venues (name, address, city, time_zone, status)
             values ($1, '12 Market Street', 'London', 'Europe/London', 'approved')",
        )
        .bind(VENUE)
        .execute(&scene.pool)
        .await
        .expect("the café");
        scene
    }

    /// A desktop browser of its own (its own cookies: another person).
    pub async fn browser(&self) -> Browser {
        Browser::start(&self.server.base, DESKTOP).await
    }

    /// An active member in London with a confirmed email and [`PASSWORD`]; `role` is
    /// `member`, `organiser` or `admin`.
    pub async fn member(&self, handle: &str, name: &str, role: &str) -> i64 {
        sqlx::query_scalar(
            "insert into members (email, handle, display_name, password_hash, city, time_zone, role, email_verified_at)
             values ($1 || '@example.com', $1, $2, $3, 'London', 'Europe/London', $4::member_role, now())
             returning id",
        )
        .bind(handle)
        .bind(name)
        .bind(&self.password_hash)
        .bind(role)
        .fetch_one(&self.pool)
        .await
        .expect("a cast member")
    }

    pub async fn follow(&self, follower: i64, followee: i64) {
        sqlx::query("insert into follows (follower_id, followee_id) values ($1, $2)")
            .bind(follower)
            .bind(followee)
            .execute(&self.pool)
            .await
            .expect("a follow");
    }

    /// Two members who met before the journey (met pairs are stored smaller id first).
    pub async fn met(&self, a: i64, b: i64) {
        sqlx::query("insert into met_pairs (a_id, b_id, how) values (least($1::bigint, $2::bigint), greatest($1::bigint, $2::bigint), 'claimed')")
            .bind(a)
            .bind(b)
            .execute(&self.pool)
            .await
            .expect("a met pair");
    }

    /// 08:00 to 20:00 every day, so any two such members share hours in every round.
    pub async fn free_every_day(&self, member: i64) {
        sqlx::query(
            "insert into availability (member_id, weekday, start_minute, end_minute)
             select $1, day, 8 * 60, 20 * 60 from generate_series(0, 6) as day",
        )
        .bind(member)
        .execute(&self.pool)
        .await
        .expect("availability");
    }

    /// An address the member uses on another network (as typed on their profile).
    pub async fn elsewhere(&self, member: i64, address: &str) {
        sqlx::query("insert into external_addresses (address, member_id) values ($1, $2)")
            .bind(address)
            .bind(member)
            .execute(&self.pool)
            .await
            .expect("an address elsewhere");
    }
}

/// A wall-clock time at the café, `days` from today: what a person puts in a time field, the
/// instant it means, and how Cuppa's pages spell it (the venue's zone, labelled).
pub struct CafeTime {
    pub utc: DateTime<Utc>,
    pub typed: String,
    pub label: String,
}

pub fn cafe_time(days: u64, hour: u32, minute: u32) -> CafeTime {
    let day = Utc::now().with_timezone(&London).date_naive() + Days::new(days);
    let wall = day.and_hms_opt(hour, minute, 0).expect("a clock time");
    // London's clocks change at 01:00 and 02:00, never at the hours the journeys use.
    let local = London.from_local_datetime(&wall).single().expect("an unambiguous time");
    CafeTime {
        utc: local.with_timezone(&Utc),
        typed: local.format("%Y-%m-%dT%H:%M").to_string(),
        label: local.format("%a %-d %b %Y, %H:%M (%Z)").to_string(),
    }
}

/// Finds `name` in the directory by searching for them, and opens their profile.
pub async fn open_profile_from_directory(browser: &Browser, name: &str) -> anyhow::Result<()> {
    browser.follow("People").await?;
    browser.wait_for_text("main h1", "People").await?;
    browser.fill("#q", name).await?;
    browser.press("form[role=search]", "Search").await?;
    browser.wait_for_text("ul.directory", name).await?;
    browser.follow_in("ul.directory", name).await?;
    browser.wait_for_text("main h1", name).await
}

/// The id at the end of the page's path (`/invitations/12` gives 12).
pub async fn id_in_path(browser: &Browser) -> anyhow::Result<i64> {
    let path = browser.path().await?;
    let last = path.rsplit('/').next().unwrap_or_default();
    last.parse().map_err(|_| anyhow::anyhow!("no id at the end of {path}"))
}
