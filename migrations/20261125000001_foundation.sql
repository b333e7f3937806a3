-- The foundation: members and their profiles, weekly availability, log-in sessions and the
-- record of failed log-ins that throttling reads.

-- Keeps `updated_at` true without every update statement having to remember it.
create function set_updated_at() returns trigger
language plpgsql as $$
begin
    new.updated_at := now();
    return new;
end;
$$;

create type member_role as enum ('member', 'organiser', 'admin');
create type member_status as enum ('active', 'suspended');
create type invite_policy as enum ('anyone', 'following', 'nobody');

-- A person with an account. Handles and emails are unique without regard to case: the unique
-- indexes are on lower(), and every lookup compares lower() so it can use them.
create table members (
    id bigint generated always as identity primary key,
    email text not null,
    handle text not null,
    display_name text not null,
    password_hash text not null,
    bio text not null default '',
    city text not null default '',
    time_zone text not null default 'UTC',
    interests text[] not null default '{}',
    role member_role not null default 'member',
    status member_status not null default 'active',
    invite_policy invite_policy not null default 'anyone',
    listed boolean not null default true,
    matching boolean not null default true,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint members_handle_format check (handle ~ '^[A-Za-z0-9_]{3,30}$'),
    constraint members_display_name_length check (char_length(display_name) between 1 and 80),
    constraint members_bio_length check (char_length(bio) <= 500)
);
create unique index members_handle_key on members (lower(handle));
create unique index members_email_key on members (lower(email));
create trigger members_updated_at before update on members
    for each row execute function set_updated_at();

-- When a member is usually free, as wall-clock minutes in their own time zone (0 = Monday).
-- Minutes rather than `time` so that a window can end at midnight (1440). Overlaps are refused
-- by the application before insert, where it can say which window is in the way.
create table availability (
    id bigint generated always as identity primary key,
    member_id bigint not null references members (id) on delete cascade,
    weekday smallint not null,
    start_minute smallint not null,
    end_minute smallint not null,
    constraint availability_weekday check (weekday between 0 and 6),
    constraint availability_window check (0 <= start_minute and start_minute < end_minute and end_minute <= 1440)
);
create index availability_member on availability (member_id, weekday, start_minute);

-- tower-sessions records, kept in PostgreSQL so that any number of app servers share them and
-- a log-out deletes the session for good.
create table sessions (
    id text primary key,
    data jsonb not null,
    expires_at timestamptz not null
);
create index sessions_expires_at on sessions (expires_at);

-- Failed log-ins, read to throttle guessing per account and per client address. Rows older
-- than the throttle window are pruned by a background job.
create table login_failures (
    id bigint generated always as identity primary key,
    account text not null,
    client_addr text not null,
    failed_at timestamptz not null default now()
);
create index login_failures_account on login_failures (lower(account), failed_at);
create index login_failures_client on login_failures (client_addr, failed_at);
