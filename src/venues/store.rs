//! All SQL for `venues`.

use sqlx::PgExecutor;

use super::model::{NewVenue, Venue, VenueStatus};

/// Records a proposal, pending review. Fails with a unique violation on `venues_name_city_key`
/// when the city already lists a place of that name.
pub async fn insert_venue(db: impl PgExecutor<'_>, venue: &NewVenue, proposed_by: i64) -> sqlx::Result<i64> {
    sqlx::query_scalar!(
        "insert into venues (name, address, city, time_zone, latitude, longitude, step_free, quiet, notes, proposed_by)
         values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         returning id",
        venue.name,
        venue.address,
        venue.city,
        venue.time_zone,
        venue.latitude,
        venue.longitude,
        venue.step_free,
        venue.quiet,
        venue.notes,
        proposed_by
    )
    .fetch_one(db)
    .await
}

/// Venues in one state, in one city (any case) or all, by city and name (and id, so offset
/// pages neither skip nor repeat places of the same name): `limit` of them after `offset`.
pub async fn list_venues(
    db: impl PgExecutor<'_>,
    status: VenueStatus,
    city: Option<&str>,
    limit: i64,
    offset: i64,
) -> sqlx::Result<Vec<Venue>> {
    sqlx::query_as!(
        Venue,
        r#"select v.id, v.name, v.address, v.city, v.time_zone, v.latitude, v.longitude, v.step_free, v.quiet, v.notes,
                  case when m.status <> 'deleted' then m.handle end as "proposed_by?"
           from venues v
           left join members m on m.id = v.proposed_by
           where v.status = $1 and ($2::text is null or lower(v.city) = lower($2))
           order by lower(v.city), lower(v.name), v.id
           limit $3 offset $4"#,
        status as VenueStatus,
        city,
        limit,
        offset
    )
    .fetch_all(db)
    .await
}

/// Proposals waiting for review, oldest first, after the proposal `after` (the last one of the
/// previous page): keyset pages, so a long queue is read a page at a time and none is skipped
/// when others are decided between two pages.
pub async fn list_pending_venues(db: impl PgExecutor<'_>, after: Option<i64>, limit: i64) -> sqlx::Result<Vec<Venue>> {
    sqlx::query_as!(
        Venue,
        r#"select v.id, v.name, v.address, v.city, v.time_zone, v.latitude, v.longitude, v.step_free, v.quiet, v.notes,
                  case when m.status <> 'deleted' then m.handle end as "proposed_by?"
           from venues v
           left join members m on m.id = v.proposed_by
           where v.status = 'pending' and ($1::bigint is null or v.id > $1)
           order by v.id
           limit $2"#,
        after,
        limit
    )
    .fetch_all(db)
    .await
}

/// Cities with approved venues, and how many each, for the list's city links.
pub async fn list_venue_cities(db: impl PgExecutor<'_>) -> sqlx::Result<Vec<(String, i64)>> {
    let rows = sqlx::query!(
        r#"select min(city) as "city!", count(*) as "venues!"
           from venues
           where status = 'approved'
           group by lower(city)
           order by lower(min(city))"#
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.city, r.venues)).collect())
}

/// A decided proposal: who proposed it (if they still have an account), its name and city.
#[derive(Clone, Debug)]
pub struct Decided {
    pub proposed_by: Option<i64>,
    pub name: String,
    pub city: String,
}

/// Approves or rejects a pending proposal; `None` when it is not pending (decided already, or
/// no such venue).
pub async fn decide_venue(
    db: impl PgExecutor<'_>,
    id: i64,
    decision: VenueStatus,
    admin: i64,
) -> sqlx::Result<Option<Decided>> {
    sqlx::query_as!(
        Decided,
        "update venues set status = $2, decided_by = $3, decided_at = now()
         where id = $1 and status = 'pending'
         returning proposed_by, name, city",
        id,
        decision as VenueStatus,
        admin
    )
    .fetch_optional(db)
    .await
}

/// Approved venues made by the seed, in one statement.
pub async fn insert_seed_venues(
    db: impl PgExecutor<'_>,
    names: &[String],
    addresses: &[String],
    cities: &[String],
    time_zones: &[String],
) -> sqlx::Result<()> {
    sqlx::query!(
        "insert into venues (name, address, city, time_zone, status, decided_at, quiet, step_free)
         select n, a, c, z, 'approved', timestamptz '2024-01-01 09:00:00+00', length(n) % 2 = 0, length(a) % 3 <> 0
         from unnest($1::text[], $2::text[], $3::text[], $4::text[]) as v(n, a, c, z)",
        names,
        addresses,
        cities,
        time_zones
    )
    .execute(db)
    .await?;
    Ok(())
}
