-- Profile photos (issue 13): the two re-encoded sizes live in PostgreSQL, so every replica
-- serves them with no shared disk; admins can take one down, and a photo can be reported.

-- A photo as stored: both sizes are JPEGs re-encoded from the upload (no metadata survives),
-- square, centred. A row never changes: its id is the version in the photo's URL, so the URL
-- changes whenever a member's photo does and can be cached for a year.
create table photos (
    id bigint generated always as identity primary key,
    -- Who uploaded it. Null for the portraits the demo seed draws, which members may share.
    member_id bigint references members (id),
    small bytea not null,
    large bytea not null,
    created_at timestamptz not null default now(),
    -- 96 px and 384 px JPEGs are a few tens of kilobytes; the bounds stop a bug storing a
    -- whole upload.
    constraint photos_small_size check (octet_length(small) between 1 and 262144),
    constraint photos_large_size check (octet_length(large) between 1 and 2097152)
);
create index photos_member on photos (member_id) where member_id is not null;
-- JPEG does not compress further: keep TOAST from trying on every insert.
alter table photos alter column small set storage external;
alter table photos alter column large set storage external;

-- The member's current photo; null shows their initial.
alter table members add column photo_id bigint references photos (id);
-- Whether a photo row is still anyone's, before it is deleted.
create index members_photo on members (photo_id) where photo_id is not null;
-- Photos an admin removed since uploads were last allowed: at 2 the member cannot upload
-- again until an admin allows it (which sets this back to 0).
alter table members add column photo_removals smallint not null default 0;
alter table members add constraint members_photo_removals check (photo_removals >= 0);

-- A report of a photo names the photo (target_id = photos.id), so the admin sees what was
-- reported even when the member has changed it since; the case's subject is its member.
alter type report_target add value 'photo';
alter type audit_action add value 'remove_photo';
alter type audit_action add value 'allow_photos';
alter type notification_kind add value 'photo_removed';
