-- The scheduler: the rounds it has run with their figures, the coffees each round suggested,
-- and what the two members said to them. See `scheduler::round` for how a round runs.

-- Told when a round suggests a coffee. Added here, used only by later transactions.
alter type notification_kind add value 'suggestion_made';

-- The members a round considers: active, opted in to matching, with a city, and taking
-- invitations from someone (accepting a suggestion sends one). Suspended members are not active.
create view scheduler_eligible as
    select id, lower(city) as city, invite_policy
    from members
    where status = 'active' and matching and city <> '' and invite_policy <> 'nobody';

-- One row a finished round. A round covers one period (the week starting on that Monday, UTC);
-- the unique period is what makes a second run for the same week write nothing.
create table scheduler_rounds (
    id bigint generated always as identity primary key,
    period date not null,
    started_at timestamptz not null,
    finished_at timestamptz not null default now(),
    -- Who asked: null for the weekly schedule.
    started_by bigint references members (id) on delete set null,
    -- Members in `scheduler_eligible` when the round ran.
    members_considered integer not null,
    -- Members of at least one pair that could meet (a common hour, a venue, a positive weight).
    members_matchable integer not null,
    candidate_pairs integer not null,
    pairs_made integer not null,
    total_weight bigint not null,
    -- Time per phase, in milliseconds.
    load_ms integer not null,
    score_ms integer not null,
    match_ms integer not null,
    write_ms integer not null,
    constraint scheduler_rounds_period_key unique (period),
    constraint scheduler_rounds_figures check (
        0 <= candidate_pairs and 0 <= pairs_made and 2 * pairs_made <= members_matchable
        and members_matchable <= members_considered
    )
);

create type suggestion_state as enum ('open', 'accepted', 'declined');

-- A coffee a round suggested to two members (a_id < b_id), with its time and place. Accepting
-- it sends an invitation on the accepter's behalf; declining it keeps the pair apart for the
-- cool-down, and counts against the pair in later rounds' scores.
create table suggestions (
    id bigint generated always as identity primary key,
    round_id bigint not null references scheduler_rounds (id) on delete cascade,
    a_id bigint not null references members (id) on delete cascade,
    b_id bigint not null references members (id) on delete cascade,
    venue_id bigint not null references venues (id),
    starts_at timestamptz not null,
    weight integer not null,
    -- Why, as the round saw it: who followed whom and the interests they share.
    a_follows_b boolean not null,
    b_follows_a boolean not null,
    shared_interests text[] not null default '{}',
    state suggestion_state not null default 'open',
    answered_by bigint references members (id) on delete set null,
    answered_at timestamptz,
    invitation_id bigint references invitations (id) on delete set null,
    constraint suggestions_ordered check (a_id < b_id),
    constraint suggestions_answered check ((state = 'open') = (answered_at is null)),
    constraint suggestions_round_pair_key unique (round_id, a_id, b_id)
);
-- A member's suggestions, newest round first, from either side.
create index suggestions_a on suggestions (a_id, round_id desc);
create index suggestions_b on suggestions (b_id, round_id desc);
-- Suggestions still waiting for an answer keep their hour out of the next round.
create index suggestions_open on suggestions (starts_at) where state = 'open';
-- The cool-down and decline look-ups by pair.
create index suggestions_pair on suggestions (a_id, b_id, round_id desc);
