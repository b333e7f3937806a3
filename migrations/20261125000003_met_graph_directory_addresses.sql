-- The record of who has met in person, the claims that lead to it, the directory's indexes,
-- and the addresses members use on other networks.

create type met_how as enum ('coffee', 'meetup', 'claimed');

-- A pair of members who have met in person, stored once: the smaller id first.
create table met_pairs (
    a_id bigint not null references members (id) on delete cascade,
    b_id bigint not null references members (id) on delete cascade,
    met_at timestamptz not null default now(),
    how met_how not null,
    constraint met_pairs_pkey primary key (a_id, b_id),
    constraint met_pairs_ordered check (a_id < b_id)
);
create index met_pairs_b on met_pairs (b_id, a_id);

create type met_claim_status as enum ('pending', 'confirmed', 'declined');

-- "We have met": one member says so, and only the other can confirm or decline. Only a
-- confirmed claim makes a met pair. One pending claim per pair, whoever made it.
create table met_claims (
    id bigint generated always as identity primary key,
    claimant_id bigint not null references members (id) on delete cascade,
    other_id bigint not null references members (id) on delete cascade,
    status met_claim_status not null default 'pending',
    created_at timestamptz not null default now(),
    answered_at timestamptz,
    constraint met_claims_not_self check (claimant_id <> other_id)
);
create unique index met_claims_one_pending on met_claims (least(claimant_id, other_id), greatest(claimant_id, other_id))
    where status = 'pending';
create index met_claims_pending_for on met_claims (other_id) where status = 'pending';

-- The directory lists active, listed members by name, a page at a time, and searches names
-- and handles by substring (trigrams).
create extension if not exists pg_trgm;
create index members_directory on members (lower(display_name), id) where status = 'active' and listed;
create index members_name_trgm on members using gin (lower(display_name) gin_trgm_ops);
create index members_handle_trgm on members using gin (lower(handle) gin_trgm_ops);

-- Addresses a member uses elsewhere (`name@mastodon.social`), kept lower-case without the
-- leading @. An address belongs to one member: the first to list it.
create table external_addresses (
    address text primary key,
    member_id bigint not null references members (id) on delete cascade,
    constraint external_addresses_format check (address ~ '^[a-z0-9_.+-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$')
);
create index external_addresses_member on external_addresses (member_id);
