-- The social graph's first half: who follows whom, and who has blocked whom.

-- A follow is one row; following back is a second row. Lists show the newest follows first,
-- a page at a time: the two indexes hand back a member's followers, and whom they follow, in
-- that order, so a page of a popular member's followers reads 31 rows, not all of them.
create table follows (
    follower_id bigint not null references members (id) on delete cascade,
    followee_id bigint not null references members (id) on delete cascade,
    created_at timestamptz not null default now(),
    constraint follows_pkey primary key (follower_id, followee_id),
    constraint follows_not_self check (follower_id <> followee_id)
);
create index follows_followee on follows (followee_id, created_at desc, follower_id);
create index follows_follower on follows (follower_id, created_at desc, followee_id);

-- A block hides two members from each other. Blocking removes follows both ways, and a follow
-- is never inserted while a block stands either way (checked in the same statement).
create table blocks (
    blocker_id bigint not null references members (id) on delete cascade,
    blocked_id bigint not null references members (id) on delete cascade,
    created_at timestamptz not null default now(),
    constraint blocks_pkey primary key (blocker_id, blocked_id),
    constraint blocks_not_self check (blocker_id <> blocked_id)
);
create index blocks_blocked on blocks (blocked_id, blocker_id);

-- Suspended members are few; counts and lists leave them out through this small index rather
-- than by reading every follower's row.
create index members_suspended on members (id) where status = 'suspended';
