-- Moderation: members' reports grouped into cases, admins' warnings, hidden profiles, the
-- append-only audit log of every admin action; and the loose ends of blocks and suspensions
-- (who a notification is about, who made the proposal on the table).

-- A hidden member can still log in and use Cuppa, but nobody else sees them: every query that
-- shows a member to others asks for `status = 'active'`. Added here, used by later transactions.
alter type member_status add value 'hidden';
-- A suggestion taken back because one of the two was suspended.
alter type suggestion_state add value 'withdrawn';
alter type notification_kind add value 'suggestion_withdrawn';

-- "Not active" is the small set: suspended and hidden members, for the follow counts.
create index members_inactive on members (id) where status <> 'active';
drop index members_suspended;

create type report_category as enum ('spam', 'harassment', 'impersonation', 'unsafe_behaviour', 'no_show_pattern', 'other');
create type report_target as enum ('member', 'invitation', 'venue', 'meetup');
create type case_status as enum ('open', 'resolved', 'dismissed');

-- The reports about one target, handled together. A target has at most one open case; a
-- report after it was closed opens a new one.
create table moderation_cases (
    id bigint generated always as identity primary key,
    target_kind report_target not null,
    target_id bigint not null,
    -- Whom the reports are about: the profile's owner, the other side of the invitation, the
    -- meetup's organiser. Null for a venue.
    subject_id bigint references members (id),
    status case_status not null default 'open',
    opened_at timestamptz not null default now(),
    closed_at timestamptz,
    closed_by bigint references members (id),
    -- What the reporters are told when it is closed.
    outcome text not null default '',
    constraint moderation_cases_closed check ((status = 'open') = (closed_at is null)),
    constraint moderation_cases_outcome_length check (char_length(outcome) <= 500)
);
create unique index moderation_cases_one_open on moderation_cases (target_kind, target_id) where status = 'open';
create index moderation_cases_queue on moderation_cases (status, id desc);
create index moderation_cases_subject on moderation_cases (subject_id, id desc) where subject_id is not null;

create table reports (
    id bigint generated always as identity primary key,
    case_id bigint not null references moderation_cases (id),
    reporter_id bigint not null references members (id),
    category report_category not null,
    details text not null default '',
    created_at timestamptz not null default now(),
    constraint reports_details_length check (char_length(details) <= 2000)
);
create index reports_case on reports (case_id, id);
-- A reporter's own list, and the daily cap.
create index reports_reporter on reports (reporter_id, created_at desc);

-- Admins' notes on a case, for each other.
create table case_notes (
    id bigint generated always as identity primary key,
    case_id bigint not null references moderation_cases (id),
    author_id bigint not null references members (id),
    body text not null,
    created_at timestamptz not null default now(),
    constraint case_notes_length check (char_length(body) between 1 and 2000)
);
create index case_notes_case on case_notes (case_id, id);

-- A warning an admin gave: shown to the member on their next page view until they acknowledge it.
create table member_warnings (
    id bigint generated always as identity primary key,
    member_id bigint not null references members (id),
    message text not null,
    created_at timestamptz not null default now(),
    acknowledged_at timestamptz
);
create index member_warnings_pending on member_warnings (member_id) where acknowledged_at is null;

create type audit_action as enum (
    'warn', 'hide', 'suspend', 'reinstate', 'set_role', 'resolve_case', 'dismiss_case', 'note_case',
    'approve_venue', 'reject_venue', 'run_round'
);

-- Every admin action, from the web or the command line. Append-only: the triggers below refuse
-- UPDATE, DELETE and TRUNCATE whoever asks, since the embedded database connects as its
-- superuser, whom a REVOKE does not bind.
create table audit_log (
    id bigint generated always as identity primary key,
    -- The admin who acted; null at the command line, where `actor` says who ran it.
    admin_id bigint references members (id),
    actor text not null,
    action audit_action not null,
    target_member_id bigint references members (id),
    -- What was acted on, in words ("@ada", "case 12", "venue 4: Flat White, London").
    target text not null,
    -- e.g. "member → organiser" for a role change.
    detail text not null default '',
    reason text not null default '',
    at timestamptz not null default now()
);
create index audit_log_admin on audit_log (admin_id, id desc);
create index audit_log_target on audit_log (target_member_id, id desc);
create index audit_log_action on audit_log (action, id desc);

create function refuse_audit_change() returns trigger
language plpgsql as $$
begin
    raise exception 'the audit log is append-only: % refused', tg_op
        using errcode = 'insufficient_privilege';
end;
$$;
create trigger audit_log_no_update_or_delete before update or delete on audit_log
    for each row execute function refuse_audit_change();
create trigger audit_log_no_truncate before truncate on audit_log
    for each statement execute function refuse_audit_change();

-- Whom a notification is about, so a block can take away the ones that name the other person.
alter table notifications add column actor_id bigint references members (id) on delete set null;
create index notifications_actor on notifications (actor_id, member_id) where actor_id is not null;
update notifications n
set actor_id = case when i.inviter_id = n.member_id then i.invitee_id else i.inviter_id end
from invitations i
where n.link = '/invitations/' || i.id;

-- Who put the times on the table: the inviter, or whoever made the last counter-proposal.
alter table invitations add column proposed_by bigint references members (id) on delete cascade;
update invitations set proposed_by = case when state = 'countered' then invitee_id else inviter_id end;
alter table invitations alter column proposed_by set not null;
