-- Public places to meet (cafés and the like). Members propose them; an admin approves one
-- before anyone can choose it for a coffee.

create type venue_status as enum ('pending', 'approved', 'rejected');

create table venues (
    id bigint generated always as identity primary key,
    name text not null,
    address text not null,
    city text not null,
    time_zone text not null,
    latitude double precision,
    longitude double precision,
    step_free boolean not null default false,
    quiet boolean not null default false,
    notes text not null default '',
    status venue_status not null default 'pending',
    proposed_by bigint references members (id) on delete set null,
    decided_by bigint references members (id) on delete set null,
    created_at timestamptz not null default now(),
    decided_at timestamptz,
    constraint venues_name_length check (char_length(name) between 1 and 120),
    constraint venues_address_length check (char_length(address) between 1 and 200),
    constraint venues_city_length check (char_length(city) between 1 and 80),
    constraint venues_notes_length check (char_length(notes) <= 300),
    constraint venues_coordinates check (
        (latitude is null) = (longitude is null)
        and (latitude is null or (latitude between -90 and 90 and longitude between -180 and 180))
    )
);
-- The same place is listed once per city, whatever its case.
create unique index venues_name_city_key on venues (lower(city), lower(name));
-- Choosing a venue: the approved ones in a city, by name.
create index venues_approved_city on venues (lower(city), lower(name)) where status = 'approved';
