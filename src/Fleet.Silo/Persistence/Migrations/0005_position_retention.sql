-- 0005: retention of positions. Daily partitions whose whole day is past the retention are detached and dropped;
-- days that have rows in positions_default (a late backlog, hours when maintenance did not run) get their own
-- partition and the rows move there. Every function here takes the advisory lock of ensure_position_partitions, so
-- all partition DDL is serialised, across hosts too. positions_default itself is never detached nor dropped: it is
-- what keeps a missing partition from rejecting a write.

-- Creates the partition of one UTC day unless it exists; true when it created it. That day's rows are moved out of
-- positions_default first (the attach would fail otherwise). The default partition is locked before the move, which
-- the attach needs anyway: a row for that day arriving in between would make the attach fail, so writers wait a moment.
CREATE FUNCTION ensure_position_partition_for(day date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    part    text;
    lower_b timestamptz;
    upper_b timestamptz;
BEGIN
    IF day IS NULL OR NOT isfinite(day) THEN
        RAISE EXCEPTION 'day must be a finite date, got %', day;
    END IF;

    PERFORM pg_advisory_xact_lock(hashtext('fleet.ensure_position_partitions'));

    part := 'positions_p' || to_char(day, 'YYYYMMDD');
    IF to_regclass(quote_ident(part)) IS NOT NULL THEN
        RETURN false;
    END IF;

    lower_b := day::timestamp AT TIME ZONE 'UTC';
    upper_b := (day + 1)::timestamp AT TIME ZONE 'UTC';
    LOCK TABLE positions_default IN ACCESS EXCLUSIVE MODE;
    EXECUTE format('CREATE TABLE %I (LIKE positions INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
    EXECUTE format(
        'WITH moved AS (DELETE FROM positions_default WHERE ts >= %L AND ts < %L RETURNING *) INSERT INTO %I SELECT * FROM moved',
        lower_b, upper_b, part);
    EXECUTE format('ALTER TABLE positions ATTACH PARTITION %I FOR VALUES FROM (%L) TO (%L)', part, lower_b, upper_b);
    RETURN true;
END
$$;

-- Same contract as in 0001; the work per day now lives in ensure_position_partition_for.
CREATE OR REPLACE FUNCTION ensure_position_partitions(days_ahead integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    today   date := (now() AT TIME ZONE 'UTC')::date;
    created integer := 0;
BEGIN
    IF days_ahead IS NULL OR days_ahead < 0 OR days_ahead > 366 THEN
        RAISE EXCEPTION 'days_ahead must be between 0 and 366, got %', days_ahead;
    END IF;

    PERFORM pg_advisory_xact_lock(hashtext('fleet.ensure_position_partitions'));
    FOR i IN 0 .. days_ahead LOOP
        IF ensure_position_partition_for(today + i) THEN
            created := created + 1;
        END IF;
    END LOOP;
    RETURN created;
END
$$;

-- Gives each day with rows in positions_default its partition, moving the rows, for the days still inside the
-- retention (and at most 366 days ahead, as ensure_position_partitions). Older rows stay put, and the
-- positions-default health check keeps reporting them. Returns the partitions created, oldest first.
-- Finding the days reads positions_default whole; it is small unless partitions are missing, which is what this fixes.
CREATE FUNCTION adopt_default_position_days(retention_days integer) RETURNS text[]
LANGUAGE plpgsql AS $$
DECLARE
    cutoff  timestamptz;
    today   date := (now() AT TIME ZONE 'UTC')::date;
    created text[] := '{}';
    day     date;
BEGIN
    IF retention_days IS NULL OR retention_days < 1 OR retention_days > 3650 THEN
        RAISE EXCEPTION 'retention_days must be between 1 and 3650, got %', retention_days;
    END IF;

    cutoff := now() - make_interval(days => retention_days);
    PERFORM pg_advisory_xact_lock(hashtext('fleet.ensure_position_partitions'));
    FOR day IN SELECT DISTINCT (ts AT TIME ZONE 'UTC')::date AS d FROM positions_default ORDER BY d LOOP
        -- The same test as drop_position_partitions, so a day is never created and dropped in one round.
        CONTINUE WHEN NOT isfinite(day) OR ((day + 1)::timestamp AT TIME ZONE 'UTC') <= cutoff OR day > today + 366;
        IF ensure_position_partition_for(day) THEN
            created := created || ('positions_p' || to_char(day, 'YYYYMMDD'));
        END IF;
    END LOOP;
    RETURN created;
END
$$;

-- Detaches and drops the daily partitions whose upper bound is at least retention_days old, so each dropped day is
-- past the retention as a whole. The bound is read from the catalog (pg_get_expr), not guessed from the name, and
-- only tables named positions_pYYYYMMDD are considered. Returns the dropped names, oldest first; idempotent.
-- A plain DETACH locks positions exclusively (CONCURRENTLY is refused with a default partition, and inside a
-- function), so writers pause briefly; the lock_timeout keeps a long wait behind a COPY from stalling ingest: the
-- call then fails, rolls back whole and is retried next round.
CREATE FUNCTION drop_position_partitions(retention_days integer) RETURNS text[]
LANGUAGE plpgsql
SET lock_timeout = '5s'
AS $$
DECLARE
    cutoff  timestamptz;
    dropped text[] := '{}';
    part    record;
BEGIN
    IF retention_days IS NULL OR retention_days < 1 OR retention_days > 3650 THEN
        RAISE EXCEPTION 'retention_days must be between 1 and 3650, got %', retention_days;
    END IF;

    cutoff := now() - make_interval(days => retention_days);
    PERFORM pg_advisory_xact_lock(hashtext('fleet.ensure_position_partitions'));
    FOR part IN
        SELECT c.relname::text AS name,
               substring(pg_get_expr(c.relpartbound, c.oid) FROM 'TO \(''([^'']+)''\)')::timestamptz AS upper_b
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'positions'::regclass
          AND c.relname ~ '^positions_p[0-9]{8}$'
        ORDER BY c.relname
    LOOP
        CONTINUE WHEN part.upper_b IS NULL OR part.upper_b > cutoff;
        EXECUTE format('ALTER TABLE positions DETACH PARTITION %I', part.name);
        EXECUTE format('DROP TABLE %I', part.name);
        dropped := dropped || part.name;
    END LOOP;
    RETURN dropped;
END
$$;
