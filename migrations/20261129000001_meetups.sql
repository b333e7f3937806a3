-- Group meetups: an organiser's coffee morning at an approved venue, with a capacity, a
-- waitlist, check-in and "who did I meet there". See `meetups::store` for how seats are taken.

-- What members are told about meetups. Added here, used only by later transactions.
alter type notification_kind add value 'meetup_invited';
alter type notification_kind add value 'meetup_promoted';
alter type notification_kind add value 'meetup_changed';
alter type notification_kind add value 'meetup_cancelled';
alter type notification_kind add value 'meetup_announcement';

-- Who may see a meetup: anyone (logged out too), or only the organiser's followers.
create type meetup_visibility as enum ('public', 'followers');

create table meetups (
    id bigint generated always as identity primary key,
    organiser_id bigint not null references members (id) on delete cascade,
    venue_id bigint not null references venues (id),
    -- The first meetup of a repeating series; null for a one-off (and for the first itself).
    series_id bigint references meetups (id) on delete set null,
    title text not null,
    description text not null default '',
    starts_at timestamptz not null,
    ends_at timestamptz not null,
    capacity integer not null,
    visibility meetup_visibility not null default 'public',
    -- No new RSVPs after this (nor after the start).
    rsvp_deadline timestamptz,
    -- Set once, when the organiser tells all their followers: that can be done once a meetup.
    followers_invited_at timestamptz,
    cancelled_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint meetups_title_length check (char_length(title) between 1 and 120),
    constraint meetups_description_length check (char_length(description) <= 4000),
    constraint meetups_capacity check (capacity between 1 and 500),
    constraint meetups_ends_after_start check (ends_at > starts_at),
    constraint meetups_deadline_before_start check (rsvp_deadline is null or rsvp_deadline <= starts_at)
);
create trigger meetups_updated_at before update on meetups
    for each row execute function set_updated_at();
-- /meetups: upcoming meetups soonest first, keyset pages on (starts_at, id).
create index meetups_upcoming on meetups (starts_at, id) where cancelled_at is null;
-- /organise and profiles: an organiser's meetups by time.
create index meetups_organiser on meetups (organiser_id, starts_at);

create type rsvp_status as enum ('going', 'waitlisted', 'cancelled');

-- One row per member and meetup. Every change to a meetup's RSVPs happens in a transaction
-- that holds the meetup row's lock (`for update`), so counting the seats taken and then
-- taking one cannot oversell.
create sequence rsvps_arrival;
create table rsvps (
    meetup_id bigint not null references meetups (id) on delete cascade,
    member_id bigint not null references members (id) on delete cascade,
    status rsvp_status not null,
    -- Arrival order, drawn under the meetup's lock (again when a member who cancelled comes
    -- back): the waitlist is served in this order.
    arrival bigint not null default nextval('rsvps_arrival'),
    checked_in_at timestamptz,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint rsvps_pkey primary key (meetup_id, member_id)
);
create trigger rsvps_updated_at before update on rsvps
    for each row execute function set_updated_at();
create index rsvps_meetup_status on rsvps (meetup_id, status, arrival);
create index rsvps_member on rsvps (member_id, meetup_id) where status <> 'cancelled';

-- "I met them" after a meetup: one row per tick. Two ticks between two checked-in attendees
-- record the pair in met_pairs (how = meetup).
create table meetup_met_ticks (
    meetup_id bigint not null references meetups (id) on delete cascade,
    member_id bigint not null references members (id) on delete cascade,
    other_id bigint not null references members (id) on delete cascade,
    created_at timestamptz not null default now(),
    constraint meetup_met_ticks_pkey primary key (meetup_id, member_id, other_id),
    constraint meetup_met_ticks_not_self check (member_id <> other_id)
);
