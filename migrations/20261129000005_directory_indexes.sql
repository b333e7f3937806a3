-- The directory's filters at scale (issue 15). Pages of `/people` are keyset pages on
-- (lower(display_name), id), read in that order from `members_directory`; these two indexes
-- let a city or an interest be found without walking every listed member to find the few who
-- match. `if not exists`, so a database that had this file applied by hand (psql) before the
-- application's migrator saw it takes it again harmlessly.

-- A city's members in directory order: a city filter reads only that city, already in name
-- order, from the cursor on, and stops after a page. Not partial (unlike `members_directory`):
-- the planner ignores the statistics of a partial index's expressions, and without those for
-- lower(city) it took every city for 0.5% of members (500 of 100,000 where Cape Town has
-- 6,432), read the whole city and sorted it: 9.6 ms for one page where the walk takes 0.4 ms.
create index if not exists members_city
    on members (lower(city), lower(display_name), id);

-- Listed members by interest (`interests @> array['tea']`): a rare interest, or a rare pairing
-- of a city and an interest, is read from here rather than found by walking names. The
-- selectivity comes from the column's own statistics, so this one may be partial.
create index if not exists members_interests
    on members using gin (interests)
    where status = 'active' and listed;
