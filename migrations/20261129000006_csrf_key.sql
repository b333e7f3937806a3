-- The key that signs the CSRF cookie of visitors who are not logged in (issue 15): they get a
-- cookie instead of a session row, so a page view writes nothing to the database. The key is
-- kept here, not drawn by each process at start, so that every `cuppa serve` replica accepts
-- the others' tokens and a restart leaves the forms visitors have open working. Processes read
-- it once, at their first need, and keep it; to change it, update the row and restart every
-- replica (forms open at that moment are refused once, with the usual "reload" page).
create table csrf_key (
    id boolean primary key default true,
    key bytea not null,
    created_at timestamptz not null default now(),
    constraint csrf_key_one_row check (id),
    -- 32 bytes, the key length `web::csrf` reads.
    constraint csrf_key_length check (octet_length(key) = 32)
);

-- Drawn here, once, so that no page view ever has to write it. Two random UUIDs (version 4,
-- from the server's strong random source) hold 244 random bits; SHA-256 spreads them over the
-- 32 bytes.
insert into csrf_key (key)
values (sha256(convert_to(gen_random_uuid()::text || gen_random_uuid()::text, 'UTF8')));
