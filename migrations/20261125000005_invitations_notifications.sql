-- Coffee invitations and their life cycle, the in-app notifications and email outbox that
-- every step of it writes, members' email preferences, and private calendar feed tokens.

-- See `invitations::model::State` for the transitions. Open = pending, countered, accepted;
-- an accepted coffee becomes `held` once its hour has passed, and both are asked whether they met.
create type invitation_state as enum ('pending', 'countered', 'accepted', 'held', 'declined', 'cancelled', 'expired');
-- What one side says after a held coffee.
create type met_answer as enum ('met', 'no_show');

create table invitations (
    id bigint generated always as identity primary key,
    inviter_id bigint not null references members (id) on delete cascade,
    invitee_id bigint not null references members (id) on delete cascade,
    venue_id bigint not null references venues (id),
    state invitation_state not null default 'pending',
    -- The times on the table: the inviter's, or the last counter-proposal's. 1 to 3.
    proposed_times timestamptz[] not null,
    accepted_time timestamptz,
    note text not null default '',
    -- Why it was declined or cancelled, and by whom.
    closing_note text not null default '',
    closed_by bigint references members (id) on delete set null,
    inviter_answer met_answer,
    invitee_answer met_answer,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    constraint invitations_not_self check (inviter_id <> invitee_id),
    constraint invitations_times check (cardinality(proposed_times) between 1 and 3),
    -- A cancelled coffee keeps the time it had, for the record.
    constraint invitations_accepted_time check (accepted_time is not null or state not in ('accepted', 'held')),
    constraint invitations_note_length check (char_length(note) <= 500 and char_length(closing_note) <= 500)
);
create trigger invitations_updated_at before update on invitations
    for each row execute function set_updated_at();
-- One open invitation per pair, whoever sent it.
create unique index invitations_one_open_per_pair on invitations (least(inviter_id, invitee_id), greatest(inviter_id, invitee_id))
    where state in ('pending', 'countered', 'accepted');
create index invitations_inviter on invitations (inviter_id, created_at desc);
create index invitations_invitee on invitations (invitee_id, created_at desc);
-- The expiry and "did you meet?" jobs look only at open invitations.
create index invitations_open on invitations (state) where state in ('pending', 'countered', 'accepted');
-- The admins' list of no-shows.
create index invitations_no_show on invitations (accepted_time desc)
    where state = 'held' and (inviter_answer = 'no_show' or invitee_answer = 'no_show');

create type notification_kind as enum (
    'invitation_received', 'invitation_countered', 'invitation_accepted', 'invitation_declined',
    'invitation_cancelled', 'invitation_expired', 'did_you_meet', 'met_confirmed',
    'venue_approved', 'venue_rejected'
);

-- In-app notifications. The text is written when the event happens, so a later change of name
-- or venue does not rewrite history.
create table notifications (
    id bigint generated always as identity primary key,
    member_id bigint not null references members (id) on delete cascade,
    kind notification_kind not null,
    text text not null,
    link text not null,
    created_at timestamptz not null default now(),
    read_at timestamptz
);
create index notifications_member on notifications (member_id, id desc);
create index notifications_unread on notifications (member_id) where read_at is null;

-- Emails waiting to be sent (or sent), written in the same transaction as the event. The
-- sender takes rows with `for update skip locked`, so two senders never take the same row.
create table outbox (
    id bigint generated always as identity primary key,
    member_id bigint references members (id) on delete set null,
    kind notification_kind not null,
    to_address text not null,
    subject text not null,
    body text not null,
    -- The page the mail points to, as a path: the sender prefixes the public address.
    link text not null,
    created_at timestamptz not null default now(),
    attempts integer not null default 0,
    next_attempt_at timestamptz not null default now(),
    last_error text,
    sent_at timestamptz,
    -- Set when the sender gives up after its last retry.
    failed_at timestamptz
);
create index outbox_due on outbox (next_attempt_at) where sent_at is null and failed_at is null;

-- The kinds of email a member has turned off (in-app notifications always appear).
create table email_opt_outs (
    member_id bigint not null references members (id) on delete cascade,
    kind notification_kind not null,
    primary key (member_id, kind)
);

-- The secret in a member's private calendar feed URL. Reset by drawing a new one.
alter table members add column calendar_token text not null default replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '');
create unique index members_calendar_token on members (calendar_token);
