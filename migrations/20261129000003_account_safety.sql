-- Account safety: verified email addresses, one-time account tokens (verification and password
-- reset), deleted accounts kept as tombstones, the log-in throttle's known addresses, the
-- sign-up throttle, and sessions findable by member so that "end my other sessions" can work.

-- A deleted account keeps its row as a tombstone ("a former member"), so met pairs, past
-- invitations, reports and audit entries still point somewhere. Added here, used by later
-- transactions (a value added by ALTER TYPE cannot be used in the transaction that adds it).
alter type member_status add value 'deleted';
-- The emails about the account itself (verify an address, reset a password, the address was
-- changed): sent whatever the member's email choices, never shown as in-app notices.
alter type notification_kind add value 'account';

alter table members
    -- Null until the member follows the link sent to `email`; no notification email is sent to
    -- an unverified address.
    add column email_verified_at timestamptz,
    -- When the member deleted their account; the handle is freed 30 days later.
    add column deleted_at timestamptz;

-- Accounts made before verification existed gave their address at sign-up and have been
-- receiving email at it: they keep receiving it rather than being silenced overnight.
update members set email_verified_at = created_at;

-- An address is unique among verified accounts only. Signing up with an address that already
-- has an account then looks exactly like signing up with a new one (nobody learns who is a
-- member), and the stranger's account can never verify it. Log-in and password reset by email
-- pick the verified account.
drop index members_email_key;
create unique index members_email_key on members (lower(email)) where email_verified_at is not null;
create index members_email on members (lower(email));

-- A tombstone's handle and email are replaced by `~<id>`, which no sign-up can choose (the
-- tilde is not allowed in a handle, and an address needs an @).
alter table members drop constraint members_handle_format;
alter table members add constraint members_handle_format
    check (deleted_at is not null or handle ~ '^[A-Za-z0-9_]{3,30}$');

create type account_token_purpose as enum ('verify_email', 'reset_password');

-- Secrets sent by email. Only their SHA-256 is stored, so a copy of this table opens nothing.
-- Each is single-use (`used_at`) and expires.
create table account_tokens (
    id bigint generated always as identity primary key,
    member_id bigint not null references members (id) on delete cascade,
    purpose account_token_purpose not null,
    secret_hash bytea not null,
    -- For `verify_email`: the address the link verifies (the new one, while changing it).
    email text,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    used_at timestamptz
);
create unique index account_tokens_secret on account_tokens (secret_hash);
-- The latest token of a kind, for "one resend per 5 minutes".
create index account_tokens_member on account_tokens (member_id, purpose, created_at desc);

-- The addresses each account has logged in from: a correct password from one of them (within
-- 30 days) is never refused because of failures from other addresses.
create table login_addresses (
    member_id bigint not null references members (id) on delete cascade,
    client_addr text not null,
    last_login_at timestamptz not null default now(),
    primary key (member_id, client_addr)
);

-- Sign-ups per client address, for the sign-up throttle; pruned with the log-in failures.
create table sign_up_attempts (
    id bigint generated always as identity primary key,
    client_addr text not null,
    attempted_at timestamptz not null default now()
);
create index sign_up_attempts_client on sign_up_attempts (client_addr, attempted_at);

-- The logged-in member of each session, read out of the record the session layer writes, so a
-- password change can end a member's other sessions without the store knowing about members.
alter table sessions add column member_id bigint generated always as ((data ->> 'member_id')::bigint) stored;
create index sessions_member on sessions (member_id) where member_id is not null;
